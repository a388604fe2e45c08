"""What the agent keeps across restarts, in one owner-only state directory.

DESIGN part 5: bootstrapped credentials, what the server wrote, the instances it created and the
registration all live under one directory (``--state-dir``, the unit's ``StateDirectory=``), so a
restart resumes where the agent was instead of bootstrapping and registering from scratch.
"""

from .directory import StateDirectory, StateDirectoryError
from .snapshot import TreeSnapshot

__all__ = ["StateDirectory", "StateDirectoryError", "TreeSnapshot"]
