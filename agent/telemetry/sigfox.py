"""Air for Sigfox on the agent side, in one import: the modem driver, the frame layout, the uplink schedule.

The pieces live in their own modules (``sigfox_modem``: the AT dialogue; ``sigfox_frame``: packing values
in the layout Soracom's binary parser decodes; ``sigfox_spec``: the field spec and parser format syntax;
``sigfox_uplinks``: the periodic uplink within the daily budget); this module gathers what a caller needs.
"""

from __future__ import annotations

from .sigfox_frame import (
    FIELD_TYPES,
    MAX_FRAME_BYTES,
    RESERVED_NAMES,
    PlacedField,
    SigfoxField,
    SigfoxFrameError,
    frame_length,
    layout,
    pack_frame,
    unpack_frame,
)
from .sigfox_modem import DOWNLINK_BYTES, MAX_UPLINK_BYTES, NO_DOWNLINK, REGIONS, SigfoxError, SigfoxModem
from .sigfox_spec import field_spec, parse_field_spec, parse_parser_format, parser_format
from .sigfox_uplinks import DAILY_DOWNLINKS, DAILY_UPLINKS, SigfoxBudget, SigfoxBudgetExceeded, SigfoxUplinks

__all__ = [
    "DAILY_DOWNLINKS",
    "DAILY_UPLINKS",
    "DOWNLINK_BYTES",
    "FIELD_TYPES",
    "MAX_FRAME_BYTES",
    "MAX_UPLINK_BYTES",
    "NO_DOWNLINK",
    "REGIONS",
    "RESERVED_NAMES",
    "PlacedField",
    "SigfoxBudget",
    "SigfoxBudgetExceeded",
    "SigfoxError",
    "SigfoxField",
    "SigfoxFrameError",
    "SigfoxModem",
    "SigfoxUplinks",
    "field_spec",
    "frame_length",
    "layout",
    "pack_frame",
    "parse_field_spec",
    "parse_parser_format",
    "parser_format",
    "unpack_frame",
]
