"""What every Inventory operation works with: the LwM2M server, the devices, observations and models.

The operation modules (devices, resources, object models, Batch) each take one ``InventoryContext``
instead of a handful of arguments, and the few answers they share are written here once: a device's
record as the API shows it (online from the live registration, ``objects`` from the last values seen)
and the 400 that an offline device earns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.core.path import Path
from agent.simulator.cloud.errors import ApiError
from agent.simulator.cloud.inventory_devices import DeviceRegistry, InventoryDevice
from agent.simulator.cloud.inventory_models import ObjectModelCatalog
from agent.simulator.cloud.inventory_observations import ObservationBook
from agent.simulator.cloud.inventory_settings import InventorySettings
from agent.simulator.cloud.inventory_values import render_resource
from agent.simulator.cloud.store import CloudStore
from agent.simulator.lwm2m_server import LwM2MServer

DEVICE_OFFLINE = "INV0001"
"""400: the device is not registered, or it did not answer (the API's "connection error")."""
DEVICE_REFUSED = "INV0002"
"""400 (read, execute, observe) or 500 (write): the device answered an LwM2M error."""
NOT_ON_DEVICE = "INV0003"
"""404: the device (or the model) has no such object instance or resource."""


def device_offline(device: InventoryDevice, detail: str = "") -> ApiError:
    suffix = f": {detail}" if detail else ""
    return ApiError(400, DEVICE_OFFLINE, f"device {device.device_id} is offline{suffix}")


@dataclass
class InventoryContext:
    server: LwM2MServer
    store: CloudStore
    devices: DeviceRegistry
    observations: ObservationBook
    models: ObjectModelCatalog
    settings: InventorySettings
    operator_id: str

    def online(self, device: InventoryDevice) -> bool:
        return device.endpoint is not None and self.server.is_registered(device.endpoint)

    def endpoint(self, device: InventoryDevice) -> str:
        """The endpoint to send LwM2M requests to; 400 if the device is not registered."""
        if device.endpoint is None or not self.server.is_registered(device.endpoint):
            raise device_offline(device, "it is not registered to the LwM2M server")
        return device.endpoint

    def render_objects(self, device: InventoryDevice, with_model: bool) -> dict[str, Any]:
        """The Device's ``objects``: each instance with the last values seen, as ObjectInstances."""
        rendered: dict[str, Any] = {}
        registry = self.server.models
        for object_id, instances in device.objects.items():
            model = registry.get(int(object_id))
            rendered_instances: dict[str, Any] = {}
            for instance_id, resources in instances.items():
                instance_path = Path(int(object_id), int(instance_id))
                rendered_instances[instance_id] = {
                    "id": int(instance_id),
                    "observed": self.observations.is_observed(device.device_id, instance_path),
                    "resources": {
                        resource_id: render_resource(
                            int(resource_id),
                            content,
                            observed=self.observations.is_observed(
                                device.device_id, instance_path.child(int(resource_id))
                            ),
                            model=None if model is None else model.resources.get(int(resource_id)),
                            with_model=with_model,
                        )
                        for resource_id, content in resources.items()
                    },
                }
            rendered[object_id] = rendered_instances
        return rendered

    def render_device(self, device: InventoryDevice, with_model: bool = False) -> dict[str, Any]:
        return device.render(
            self.operator_id, online=self.online(device), objects=self.render_objects(device, with_model)
        )
