"""Where the folders the agent ships are found: ``objects/`` and ``device_profiles/``.

They live at the top of the source tree, beside ``agent/``, so that people read, diff and upload
them as plain files. A wheel carries them inside the package instead, as ``agent/_shipped/objects``
and ``agent/_shipped/device_profiles`` (the build step in ``setup.py`` copies them there), so an
agent installed with ``pip install`` works anywhere. A checkout and an editable install
(``pip install -e .``) have no such copy and use the source tree's folders.

The packaged copy is looked for first: where it exists it is the one built with the code that runs.
Both places keep the two folders side by side, so a profile's relative path such as
``../objects/custom`` means the same in either.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# Where a wheel holds the folders (setup.py writes them there; keep the two in step).
PACKAGED_DIR = PACKAGE_DIR / "_shipped"
SOURCE_TREE_DIR = PACKAGE_DIR.parent


def shipped_dir(name: str) -> Path:
    """The shipped folder ``name`` (``"objects"`` or ``"device_profiles"``) of this installation.

    When neither place has it, the source tree's path is returned, so the caller's error names the
    folder it expected.
    """
    packaged = PACKAGED_DIR / name
    return packaged if packaged.is_dir() else SOURCE_TREE_DIR / name
