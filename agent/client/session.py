"""A server session: what the agent keeps per LwM2M server it talks to.

Attributes written by a server, its observations and the content format it prefers belong to that
server (LwM2M keys attributes by Short Server ID), so they live here rather than in the tree, which
all servers share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..core.attributes import AttributeStore, NotificationAttributes
from ..core.codecs import encoder_for
from ..core.errors import BadRequest
from ..core.formats import ContentFormat
from ..core.linkformat import Link
from ..core.path import Path
from ..tree import ObjectTree
from .observe import ObservationRegistry


def preferred_format_for(lwm2m_version: str) -> ContentFormat:
    """TLV is the only rich format every 1.0 server (and Soracom Inventory) reads; 1.1 prefers SenML CBOR."""
    return ContentFormat.TLV if lwm2m_version == "1.0" else ContentFormat.SENML_CBOR


@dataclass
class ServerSession:
    tree: ObjectTree
    lwm2m_version: str = "1.1"
    short_server_id: int = 0
    preferred_format: ContentFormat | None = None
    bootstrapping: bool = False
    attributes: AttributeStore = field(default_factory=AttributeStore)
    observations: ObservationRegistry = field(default_factory=ObservationRegistry)
    on_bootstrap_finish: Callable[[], Awaitable[None]] | None = None
    # Called after the server changed the tree ("write", "create", "delete", "bootstrap"), so the
    # client can keep what servers set across restarts.
    on_tree_change: Callable[[str, Path], None] | None = None

    def tree_changed(self, operation: str, path: Path) -> None:
        if self.on_tree_change is not None:
            self.on_tree_change(operation, path)

    def response_format(self, accept: object, path: Path) -> int:
        """The content format of a Read or Observe answer: Accept if given, else the preferred one."""
        if accept is not None:
            fmt = int(accept)  # type: ignore[call-overload]
            encoder_for(fmt)
            return fmt
        return int(self.preferred_format or preferred_format_for(self.lwm2m_version))

    def composite_format(self, accept: object) -> int:
        if accept is None:
            return int(ContentFormat.SENML_CBOR)
        fmt = int(accept)  # type: ignore[call-overload]
        if fmt not in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR):
            from ..core.errors import NotAcceptable

            raise NotAcceptable("composite answers are SenML JSON or SenML CBOR")
        return fmt

    def default_attributes(self) -> NotificationAttributes:
        """pmin/pmax defaults from this server's Server object instance (/1/x/2 and /1/x/3)."""
        pmin = pmax = None
        node = self.tree.objects.get(1)
        if node is not None:
            for inst in node.instances.values():
                if inst.stored(0) == self.short_server_id or len(node.instances) == 1:
                    p2, p3 = inst.stored(2), inst.stored(3)
                    pmin = p2 if isinstance(p2, int) else None
                    pmax = p3 if isinstance(p3, int) else None
                    break
        return NotificationAttributes(pmin=pmin, pmax=pmax)

    def effective_attributes(self, path: Path) -> NotificationAttributes:
        return self.attributes.effective(path, self.default_attributes())

    async def bootstrap_finish(self) -> None:
        if not self.bootstrapping:
            raise BadRequest("Bootstrap-Finish outside a bootstrap session")
        if self.on_bootstrap_finish is not None:
            await self.on_bootstrap_finish()
        # Finish ends what the bootstrap server may do: its next request is refused like a stranger's.
        self.bootstrapping = False

    def bootstrap_discover_links(self, path: Path) -> list[Link]:
        """Bootstrap-Discover (LwM2M 1.1 §5.2.7.3): objects and instances, with ssid/uri of servers."""
        if len(path) > 1:
            raise BadRequest("bootstrap-discover takes the root or an object")
        links = [Link("/", {"lwm2m": self.lwm2m_version})]
        for oid in sorted(self.tree.objects):
            if path and oid != path[0]:
                continue
            node = self.tree.objects[oid]
            links.append(Link(f"/{oid}", node.model.version_attributes()))
            for iid in sorted(node.instances):
                inst_attrs: dict[str, str | None] = {}
                inst = node.instances[iid]
                ssid = inst.stored(10) if oid == 0 else inst.stored(0) if oid == 1 else None
                if ssid is not None and not (oid == 0 and inst.stored(1) is not False):
                    inst_attrs["ssid"] = str(ssid)
                if oid == 0 and inst.stored(0) is not None:
                    inst_attrs["uri"] = str(inst.stored(0))
                links.append(Link(f"/{oid}/{iid}", inst_attrs))
        return links

