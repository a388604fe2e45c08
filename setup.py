"""Build step: a wheel carries the top-level ``objects/`` and ``device_profiles/`` inside the package.

Everything else about the build is in ``pyproject.toml``. The two folders stay at the top of the
source tree (people read and diff them there), so they are not package data that setuptools finds by
itself: ``build_py`` copies them to ``agent/_shipped/`` of the build, where
``agent.shipped_files.shipped_dir`` looks first. An editable install (``pip install -e .``) copies
nothing; the package then finds the folders in the source tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("objects", "device_profiles")
PACKAGED_DIR = Path("agent", "_shipped")  # agent.shipped_files.PACKAGED_DIR, relative to the build


class BuildPyWithShippedFolders(build_py):
    """``build_py`` that also copies the shipped folders into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in SHIPPED_FOLDERS:
            target = Path(self.build_lib) / PACKAGED_DIR / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))


setup(cmdclass={"build_py": BuildPyWithShippedFolders})
