"""Where the real Soracom service is, per coverage area (``--soracom jp|g``, ``soracom = "jp"``).

From SORACOM-NOTES.md: devices with a Soracom Air SIM bootstrap over the SIM network at a plain CoAP
bootstrap server, which hands them a ``coaps://`` DM account; SIM-less devices use a device id and
secret from the console and go straight to the DM server. Inventory speaks LwM2M 1.0 in practice and
uses Short Server ID 123. The global DM port is unconfirmed, so every value here is only a default:
``--server`` / ``uri`` and ``--bootstrap`` / ``bootstrap`` still override it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SoracomCoverage:
    name: str
    dm_server: str
    bootstrap_server: str
    api: str
    lwm2m_version: str = "1.0"
    short_server_id: int = 123


COVERAGES: dict[str, SoracomCoverage] = {
    "jp": SoracomCoverage("jp", dm_server="coaps://jp.inventory.soracom.io:5684",
                          bootstrap_server="coap://bootstrap.soracom.io:5683", api="https://api.soracom.io/v1"),
    "g": SoracomCoverage("g", dm_server="coaps://g.inventory.soracom.io:5684",
                         bootstrap_server="coap://bootstrap.soracom.io:5683", api="https://g.api.soracom.io/v1"),
}
