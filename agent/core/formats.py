"""CoAP Content-Format numbers the agent speaks, and their names for messages and the CLI."""

from __future__ import annotations

import enum


class ContentFormat(enum.IntEnum):
    TEXT = 0
    LINK_FORMAT = 40
    OPAQUE = 42
    SENML_JSON = 110
    SENML_CBOR = 112
    TLV = 11542
    LWM2M_JSON = 11543
    # LwM2M 1.0 servers registered before IANA numbers existed sometimes send these.
    LEGACY_TLV = 1542
    LEGACY_JSON = 1543

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def from_name(cls, name: str) -> ContentFormat:
        key = name.strip().lower()
        for fmt, label in _LABELS.items():
            if key in (label, fmt.name.lower(), str(int(fmt))):
                return fmt
        raise ValueError(f"unknown content format {name!r}; one of {', '.join(_LABELS.values())}")


_LABELS = {
    ContentFormat.TEXT: "text",
    ContentFormat.LINK_FORMAT: "link",
    ContentFormat.OPAQUE: "opaque",
    ContentFormat.SENML_JSON: "senml-json",
    ContentFormat.SENML_CBOR: "senml-cbor",
    ContentFormat.TLV: "tlv",
    ContentFormat.LWM2M_JSON: "lwm2m-json",
    ContentFormat.LEGACY_TLV: "legacy-tlv",
    ContentFormat.LEGACY_JSON: "legacy-json",
}
