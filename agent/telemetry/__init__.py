"""Telemetry: uploads of chosen resources beside LwM2M device management.

Sigfox lives in :mod:`agent.telemetry.sigfox` (modem driver, frame layout for Soracom's binary parser,
periodic uplinks within the daily budget). The package imports nothing on its own so that a profile
without telemetry does not load serial support.
"""
