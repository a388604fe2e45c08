"""Settings of the emulated Inventory and Batch services: the service's limits and the emulator's guesses.

The limits (16 custom objects per account, 20 resources per object, 10,000 tasks per batch job) are
Soracom's published ones; how values look in JSON and how many batch tasks run at once are the
emulator's choices, kept here so a test or a user can change them instead of the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.core.formats import ContentFormat
from agent.simulator.cloud.inventory_values import ValueStyle

STANDARD_OBJECT_RANGES = ((0, 9), (3200, 3203), (3300, 3350))
"""Objects the service knows without an upload (Soracom's documentation)."""


def is_standard_object(object_id: int) -> bool:
    return any(low <= object_id <= high for low, high in STANDARD_OBJECT_RANGES)


@dataclass(frozen=True)
class InventorySettings:
    """What the emulated Inventory and Batch accept and how they answer."""

    max_custom_objects: int = 16
    max_resources_per_object: int = 20
    values: ValueStyle = field(default_factory=ValueStyle)
    # Soracom's server speaks TLV to devices in practice (SORACOM-NOTES.md).
    read_format: int = ContentFormat.TLV
    write_format: int = ContentFormat.TLV
    # Read /3/0 when a device registers, to fill manufacturer, model, serial number and firmware version;
    # a bounded number at once, so a fleet registering together is not slowed by its own reads.
    read_device_info: bool = True
    device_info_concurrency: int = 32
    batch_max_tasks: int = 10_000
    batch_concurrency: int = 8

    def __post_init__(self) -> None:
        if self.max_custom_objects < 0 or self.max_resources_per_object < 1:
            raise ValueError("max_custom_objects must be >= 0 and max_resources_per_object >= 1")
        if min(self.batch_max_tasks, self.batch_concurrency, self.device_info_concurrency) < 1:
            raise ValueError("batch_max_tasks, batch_concurrency and device_info_concurrency must be >= 1")
