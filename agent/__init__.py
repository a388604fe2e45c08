"""lwm2m-agent: an asyncio LwM2M client agent with a local Soracom cloud emulator.

The package reads top-down as the flow of the product:

* ``agent.core`` -- the pure protocol: paths, object-model types, values, content-format codecs,
  notification attributes. No I/O, shared by the agent and the emulator's server.
* ``agent.models`` -- loading and validating object models (OMA DDF XML and JSON).
* ``agent.client`` -- the object tree, the request handlers, registration and observation over CoAP.
* ``agent.simulator`` -- the local LwM2M server and the Soracom cloud emulator.
* ``agent.cli`` -- the ``lwm2m-agent`` command.
"""

__version__ = "0.1.0"
