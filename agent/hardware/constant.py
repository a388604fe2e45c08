"""A resource whose value never changes: a model name, a supported binding, a fixed setting.

Profiles use it for facts the device cannot discover (the product name printed on the box) and to
override a system fact that the hardware reports wrongly.
"""

from __future__ import annotations

from ..core.errors import CodecError
from ..core.model import ResourceType
from ..core.values import coerce
from ..tree.binding import ResourceBinding, ResourceContent
from .errors import HardwareConfigError


class Constant(ResourceBinding):
    """Always reads ``value`` (checked against ``rtype`` when given); not writable."""

    __slots__ = ("value",)

    def __init__(self, value: ResourceContent, *, rtype: ResourceType | None = None) -> None:
        super().__init__()
        if rtype is not None:
            try:
                if isinstance(value, dict):
                    value = {k: coerce(v, rtype, f"value[{k}]") for k, v in value.items()}
                else:
                    value = coerce(value, rtype, "value")
            except CodecError as exc:
                raise HardwareConfigError("value", exc.message,
                                          f"give a value of type {rtype.value}") from None
        self.value = value

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"

    async def read(self) -> ResourceContent:
        return self.value

