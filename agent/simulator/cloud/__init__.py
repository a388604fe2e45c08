"""A local emulator of the Soracom cloud's HTTP side, so the agent can be developed and tested offline.

The API host (auth, Harvest Data and Files, Sigfox devices; Inventory plugs in later) is ``create_app``;
the device-side entry points (Harvest HTTP and TCP/UDP, the Unified Endpoint, Harvest Files) are small
apps and socket servers of their own, as they are separate hosts on the real service; ``start_cloud`` runs
them all. ``CloudStore`` holds the state, in memory or in a sqlite file; ``CloudConfig`` holds the
settings and every guess about what the real service leaves unsaid.
"""

from agent.simulator.cloud.app import InventoryRoutes, create_app
from agent.simulator.cloud.config import CloudConfig, RateLimit, ResourceRef
from agent.simulator.cloud.files import create_files_ingest_app
from agent.simulator.cloud.ingest import create_harvest_ingest_app, create_unified_ingest_app
from agent.simulator.cloud.records import (
    DataEntry,
    DataResource,
    FileInfo,
    RuleViolation,
    SigfoxDeviceRecord,
    UnknownItem,
)
from agent.simulator.cloud.runner import CloudPorts, RunningCloud, start_cloud
from agent.simulator.cloud.store import CloudStore

__all__ = [
    "CloudConfig",
    "CloudPorts",
    "CloudStore",
    "DataEntry",
    "DataResource",
    "FileInfo",
    "InventoryRoutes",
    "RateLimit",
    "ResourceRef",
    "RuleViolation",
    "RunningCloud",
    "SigfoxDeviceRecord",
    "UnknownItem",
    "create_app",
    "create_files_ingest_app",
    "create_harvest_ingest_app",
    "create_unified_ingest_app",
    "start_cloud",
]
