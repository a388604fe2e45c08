"""Telemetry: uploads of chosen resources beside LwM2M device management, through a durable queue.

Every reading goes to :mod:`~agent.telemetry.queue` (sqlite in the state directory) before anything else;
:mod:`~agent.telemetry.delivery` sends each destination's readings in order with retries. The destinations:
:mod:`~agent.telemetry.harvest` (Harvest Data and the Unified Endpoint over HTTP, TCP and UDP, and
``publish``), :mod:`~agent.telemetry.files` (Harvest Files), :mod:`~agent.telemetry.send` (LwM2M Send),
:mod:`~agent.telemetry.notifications` (notification storing) and :mod:`~agent.telemetry.sigfox` (modem
driver, frame layout, uplinks within the daily budget, downlinks). :mod:`~agent.telemetry.service` runs the
``[telemetry.*]`` destinations that :mod:`~agent.telemetry.settings` describes; the profile code builds
those settings, this package never imports it. The package imports nothing on its own, so a profile
without telemetry does not load serial support.
"""
