"""Observations the Inventory API started, and where their notifications go.

``POST .../observe`` starts an LwM2M Observe on the device; every answer from then on (the first one
included, as it carries the current value) is handed to ``on_values``, which the Inventory turns into a
Harvest Data entry of the device (resource type ``Device``, ``application/json``). The entry's content is
what Soracom forwards for an Inventory notification to Beam and Funnel (its "data format" page), one
object instance per entry, whether a resource or the instance was observed::

    {"deviceId": "d-…", "path": "/3303/0", "lastModifiedTime": 1524554897553,
     "resources": {"5700": {"name": "Sensor Value", "value": 21.3}}}

(``values`` instead of ``value`` for a multiple resource; no ``name`` when the object has no model).

``unobserve`` ends it: the emulator stops storing at once and cancels on the device in the background
(GET with Observe=1 while the device is registered, as LwM2M 1.0 asks, else by forgetting the token),
so the HTTP answer never waits on a device that does not answer. A device that de-registers or
registers anew loses its observations, as on a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.core.model import ModelRegistry
from agent.core.path import Path
from agent.core.values import ResourceValue
from agent.simulator.cloud.inventory_values import ValueStyle, instance_contents
from agent.simulator.lwm2m_server import ClientError, LwM2MServer, Observation, Result

log = logging.getLogger(__name__)


def notification_content(
    device_id: str,
    path: Path,
    values: list[ResourceValue],
    models: ModelRegistry,
    style: ValueStyle,
    time_ms: int,
) -> dict[str, Any]:
    """The Harvest Data entry of one notification (see the module docstring)."""
    instance = Path(*path[:2])
    model = models.get(instance[0])
    resources: dict[str, Any] = {}
    for resource_id, content in instance_contents(values, instance, model, style).items():
        resource_model = None if model is None else model.resources.get(resource_id)
        named = {} if resource_model is None else {"name": resource_model.name}
        resources[str(resource_id)] = {**named, **content}
    return {"deviceId": device_id, "path": str(instance), "lastModifiedTime": time_ms, "resources": resources}


ValuesSink = Callable[[str, Path, list[ResourceValue]], None]
"""Called with (device id, observed path, values) for the first answer and each notification."""


@dataclass
class _Active:
    endpoint: str
    observation: Observation
    pump: asyncio.Task[None]


class ObservationBook:
    """Active observations by (device id, path)."""

    def __init__(self, server: LwM2MServer, on_values: ValuesSink) -> None:
        self.server = server
        self.on_values = on_values
        self._active: dict[tuple[str, Path], _Active] = {}
        self._cancelling: set[asyncio.Task[None]] = set()

    def is_observed(self, device_id: str, path: Path) -> bool:
        return (device_id, path) in self._active

    def observed_paths(self, device_id: str) -> list[Path]:
        return [path for (owner, path) in self._active if owner == device_id]

    async def start(self, device_id: str, endpoint: str, path: Path, content_format: int | None) -> Result:
        """Observe ``path``; returns the device's first answer. An observation already running is kept
        (its first answer is not repeated: a read's answer is returned instead). Raises ``ClientError``
        when the device is not registered or does not answer."""
        if (device_id, path) in self._active:
            return await self.server.read(endpoint, path, content_format)
        observation = await self.server.observe(endpoint, path, content_format)
        first = observation.first
        assert first is not None
        if not first.ok or not observation.notifying or (device_id, path) in self._active:
            # Refused, not observable, or a concurrent request won the race: nothing must linger.
            if observation.notifying:
                self._cancel_on_device(observation)
            return first
        if first.values:
            self.on_values(device_id, path, first.values)
        pump = asyncio.get_running_loop().create_task(self._pump(device_id, path, observation))
        self._active[(device_id, path)] = _Active(endpoint, observation, pump)
        return first

    async def _pump(self, device_id: str, path: Path, observation: Observation) -> None:
        async for result in observation:
            if not result.ok:
                log.info("observation of %s on %s ended: %s %s", path, device_id, result.code, result.text)
                break
            try:
                self.on_values(device_id, path, result.values)
            except Exception:  # a bad notification must not end the observation
                log.exception("storing a notification of %s on %s failed", path, device_id)
        active = self._active.get((device_id, path))
        if active is not None and active.observation is observation:
            del self._active[(device_id, path)]

    def stop(self, device_id: str, path: Path) -> bool:
        """End one observation; False if there was none."""
        active = self._active.pop((device_id, path), None)
        if active is None:
            return False
        active.pump.cancel()
        self._cancel_on_device(active.observation)
        return True

    def stop_device(self, device_id: str) -> None:
        for path in self.observed_paths(device_id):
            self.stop(device_id, path)

    def _cancel_on_device(self, observation: Observation) -> None:
        async def cancel() -> None:
            mode = "get" if self.server.is_registered(observation.endpoint) else "rst"
            try:
                await observation.cancel(mode)
            except ClientError:
                await observation.cancel("rst")

        task = asyncio.get_running_loop().create_task(cancel())
        self._cancelling.add(task)
        task.add_done_callback(self._cancelling.discard)

    async def close(self) -> None:
        for device_id, path in list(self._active):
            active = self._active.pop((device_id, path))
            active.pump.cancel()
            with contextlib.suppress(Exception):
                await active.observation.cancel("rst")
        for task in list(self._cancelling):
            task.cancel()
        await asyncio.gather(*self._cancelling, return_exceptions=True)
