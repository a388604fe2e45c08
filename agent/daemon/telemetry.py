"""Starting an agent's telemetry over its durable queue: every destination, and notification storing.

Telemetry needs pieces of a running agent (the object tree to read, the LwM2M client for Send, its
observations for notification storing), so this is where they meet: ``lwm2m-agent run`` and
``lwm2m-agent simulate`` both start telemetry through here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..client.agent import LwM2MClient
from ..core.model import Value
from ..telemetry.delivery import Transport
from ..telemetry.notifications import NotificationStore, server_storing
from ..telemetry.queue import TelemetryQueue
from ..telemetry.send import SendTransport, senml_reading
from ..telemetry.service import TelemetryService, tree_reader
from ..telemetry.settings import DestinationSettings, Endpoints, TelemetrySettings
from ..tree import ObjectTree


async def start_telemetry(settings: TelemetrySettings, tree: ObjectTree, client: LwM2MClient | None,
                          queue: TelemetryQueue, *, endpoints: Endpoints | None = None) -> TelemetryService:
    """The running telemetry of ``settings`` over ``queue`` (the caller's: it closes it after the service)."""

    def send_transport(dest: DestinationSettings) -> Transport | None:
        if dest.transport != "lwm2m_send" or client is None:
            return None
        return SendTransport(client.send_payload)

    def send_payload(dest: DestinationSettings) -> Callable[[dict[str, Value]], Awaitable[bytes | None]] | None:
        return senml_reading(dest.resources, tree.models) if dest.transport == "lwm2m_send" else None

    service = TelemetryService(settings, queue, tree_reader(tree), endpoints=endpoints,
                               extra_transport=send_transport, extra_payload=send_payload)
    await service.start()
    return service


def store_notifications(client: LwM2MClient, queue: TelemetryQueue) -> NotificationStore:
    """Notification storing (Server object resource 6) for ``client``, started; ``close()`` it before the
    client stops."""

    def reachable() -> bool:
        return client.engine is not None and client.engine.registered.is_set()

    def storing_resource() -> object:
        node = client.tree.objects.get(1)
        for instance in node.instances.values() if node is not None else ():
            return instance.stored(6)
        return None

    store = NotificationStore(queue, client.session.observations, reachable, server_storing(storing_resource))
    store.start()
    return store
