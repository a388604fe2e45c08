"""The pure LwM2M protocol core: paths, model types, values and codecs.

Nothing in this package does I/O, so the agent and the emulator's LwM2M server share it, and
property-based tests can drive it directly.
"""
