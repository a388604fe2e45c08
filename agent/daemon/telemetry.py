"""Starting an agent's telemetry: the durable queue in its state directory, and every destination.

Telemetry needs pieces of a running agent (the object tree to read, the LwM2M client for Send), so this
is where they meet: ``lwm2m-agent run`` and ``lwm2m-agent simulate`` both start telemetry through here.
"""

from __future__ import annotations

from ..client.agent import LwM2MClient
from ..telemetry.queue import TelemetryQueue
from ..telemetry.service import TelemetryService, tree_reader
from ..telemetry.settings import Endpoints, TelemetrySettings
from ..tree import ObjectTree


async def start_telemetry(settings: TelemetrySettings, tree: ObjectTree, client: LwM2MClient | None,
                          queue: TelemetryQueue, *, endpoints: Endpoints | None = None) -> TelemetryService:
    """The running telemetry of ``settings`` over ``queue`` (the caller's: it closes it after the service)."""
    service = TelemetryService(settings, queue, tree_reader(tree), endpoints=endpoints)
    await service.start()
    return service
