"""The object models the agent ships: the DDF and JSON files of the project's ``objects/`` folder.

They live as plain files at the top of the source tree (not inside the package) so that people read,
diff and upload them as they are; a wheel carries a copy inside the package.
:func:`agent.shipped_files.shipped_dir` says which one this installation has. Callers may also pass
a folder of their own.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..core.model import ModelRegistry, ObjectModel
from ..shipped_files import shipped_dir
from .errors import ModelError
from .loading import load_models, newest_models


def shipped_objects_dir() -> Path:
    """Where the shipped model files are: ``objects/`` of the source tree, or the wheel's copy of it."""
    return shipped_dir("objects")


@functools.lru_cache(maxsize=8)
def _load(folder: Path) -> tuple[ObjectModel, ...]:
    if not folder.is_dir():
        raise ModelError(
            str(folder),
            "",
            "the folder of shipped object models is missing",
            "reinstall the agent ('pip install .' or 'pip install -e .' from its source tree)",
        )
    result = load_models([folder])
    if result.refused:
        # A shipped model that does not load is a packaging bug, not a user's input: stop loudly.
        raise result.refused[0]
    return tuple(result.models)


def shipped_models(objects_dir: Path | None = None) -> ModelRegistry:
    """A fresh registry of the shipped models (or those of ``objects_dir``), newest version per object.

    Raises ModelError when the folder is missing or one of its files does not load.
    """
    folder = (objects_dir or shipped_objects_dir()).resolve()
    return newest_models(_load(folder))
