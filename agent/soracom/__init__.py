"""Clients of the Soracom API that the agent's tools use, against the real service or the emulator."""
