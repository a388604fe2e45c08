"""What a wheel carries: the shipped ``objects/`` and ``device_profiles/`` inside the package, found there.

A wheel is built for real (``pip wheel``, offline, with the setuptools of the test environment) from a
copy of the files a build reads, unpacked as an installer would, and imported from outside any
checkout by a separate interpreter. ``.ci/run`` also installs such a wheel into a fresh venv and runs
the ``lwm2m-agent`` command from there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import REPO

from agent.models import shipped_models

SHIPPED = ("objects", "device_profiles")
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")

# Run by the built package's own interpreter: where it finds what it ships, and that all of it loads.
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import agent
from agent.models import shipped_models, shipped_objects_dir
from agent.profiles import load_profile, shipped_profile
profile = load_profile(shipped_profile("simulator"))
print(json.dumps({
    "package": agent.__file__,
    "objects": str(shipped_objects_dir()),
    "profile": str(shipped_profile("simulator")),
    "models": sorted(model.id for model in shipped_models()),
    "profile_objects": len(profile.instances),
}))
"""


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()
            and "__pycache__" not in path.parts}


@pytest.fixture(scope="module")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of a copy of the source tree, unpacked: what ``pip install`` puts in site-packages."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        shutil.copy(REPO / name, source / name)
    for name in ("agent", *SHIPPED):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(dist), str(source)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = dist.glob("lwm2m_agent-*.whl")
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


@pytest.mark.parametrize("name", SHIPPED)
def test_the_wheel_carries_each_shipped_folder_inside_the_package(built_package: Path, name: str) -> None:
    packaged = built_package / "agent" / "_shipped" / name
    assert files_under(packaged) == files_under(REPO / name)
    assert files_under(packaged), f"{name}/ is empty"


def test_the_built_package_finds_its_own_copy_outside_the_checkout(built_package: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(built_package)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    packaged = built_package / "agent" / "_shipped"
    assert Path(found["package"]).is_relative_to(built_package)
    assert Path(found["objects"]) == packaged / "objects"
    assert Path(found["profile"]) == packaged / "device_profiles" / "simulator.toml"
    assert found["models"] == sorted(model.id for model in shipped_models())
    assert found["profile_objects"] > 0
