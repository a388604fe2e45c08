"""Device profiles: one TOML file describes a device, and the agent serves it with no Python written.

A profile names the LwM2M server, the object models to load, the object instances the device has,
and for each resource where its value comes from or where writes and executes go (a Linux fact,
a serial sensor, a GPS, a GPIO line, a file, a command, a constant, a simulated source). The
format is documented in ``agent/profiles/README.md``; ``device_profiles/simulator.toml`` uses
every kind of binding. In short::

    [server]
    uri = "coap://127.0.0.1:5683"
    endpoint = "pi-{serial}"          # {serial}, {mac}, {hostname}, {machine_id}; default: serial, or host+MAC

    [objects.3.0]
    system = "device"                 # a whole instance from the Linux system

    [objects.3303.0.resources]
    5700 = { kind = "serial_line", port = "/dev/ttyUSB0", pattern = "T=(-?[0-9.]+)" }
    5701 = "Cel"                      # a plain value: a constant (or a server-writable value on RW)

The flow: :func:`load_profile` (parse and check; no hardware), :func:`build_agent_tree` (the bindings,
not started), :func:`start_tree` / :func:`close_tree`, and :func:`describe_tree` for
``lwm2m-agent profile check``. ``Profile.server`` gives the client's settings.
"""

from .build import build_agent_tree, simulated_hardware
from .describe import describe_tree
from .endpoint import EndpointName, default_endpoint_name, resolve_endpoint_template
from .errors import ProfileError
from .kinds import KINDS
from .lifecycle import close_tree, start_tree
from .loader import load_profile, parse_profile, shipped_profile
from .sigfox import SigfoxField, SigfoxProfile
from .spec import BindingSpec, InstanceSpec, Profile, SerialPortSpec, ServerProfile, ShortcutSpec

__all__ = [
    "KINDS",
    "BindingSpec",
    "EndpointName",
    "InstanceSpec",
    "Profile",
    "ProfileError",
    "SerialPortSpec",
    "ServerProfile",
    "ShortcutSpec",
    "SigfoxField",
    "SigfoxProfile",
    "build_agent_tree",
    "close_tree",
    "default_endpoint_name",
    "describe_tree",
    "load_profile",
    "parse_profile",
    "resolve_endpoint_template",
    "shipped_profile",
    "simulated_hardware",
    "start_tree",
]
