"""Test helpers shared by the test modules: models, trees and settings for a real agent."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path as FsPath

from agent.client.agent import ClientSettings
from agent.client.defaults import default_tree
from agent.client.registration import RegistrationSettings
from agent.core.model import ModelRegistry, ObjectLink
from agent.models import load_models, shipped_models
from agent.tree import ObjectInstance, ObjectTree, StoredValue
from agent.tree.binding import ExecuteAction

HERE = FsPath(__file__).parent
REPO = HERE.parent
TEST_OBJECT_FILE = HERE / "data" / "32769-test-all-types.json"
# Copies of public material the tests read (provenance and licences beside them, tests/data/README.md).
OMA_REGISTRY = HERE / "data" / "oma-registry"
SORACOM_API_SPEC = HERE / "data" / "soracom-api" / "soracom-api.subset.yaml"
ENDPOINT = "test-device"
CLI = [sys.executable, "-m", "agent.cli"]


async def run_cli(*args: str) -> tuple[int, str]:
    """Run ``lwm2m-agent ARGS`` to the end; its exit status and its output (stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(*CLI, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def agent_models() -> ModelRegistry:
    models = shipped_models()
    result = load_models([TEST_OBJECT_FILE])
    models.update(result.models)
    return models


def all_types_instance(iid: int = 0) -> ObjectInstance:
    last_args = StoredValue("", writable=False)

    def action(arguments: str) -> None:
        last_args.set(arguments)

    return ObjectInstance(iid, {
        0: StoredValue("hello"),
        1: StoredValue(-42),
        2: StoredValue(42),
        3: StoredValue(21.5),
        4: StoredValue(True),
        5: StoredValue(b"\x00\x01\xfe\xff"),
        6: StoredValue(1_700_000_000),
        7: StoredValue(ObjectLink(3, 0)),
        8: StoredValue("</3/0>"),
        9: StoredValue({0: 10, 1: 20, 5: 50}),
        10: StoredValue(7, writable=False),
        11: StoredValue("secret"),
        12: ExecuteAction(action),
        13: last_args,
    })


def build_tree(server_uri: str, lifetime: int = 60) -> ObjectTree:
    tree = default_tree(server_uri=server_uri, lifetime=lifetime, simulate=True, models=agent_models())
    tree.add_object(tree.models.object(32769))
    tree.add_instance(32769, all_types_instance(0))
    return tree


def client_settings(server_uri: str, endpoint: str = ENDPOINT, **overrides: object) -> ClientSettings:
    reg = RegistrationSettings(server_uri=server_uri, endpoint=endpoint, lifetime=60, ack_timeout=0.3,
                               max_retransmit=1, backoff_initial=0.05, backoff_max=0.5)
    for key, value in overrides.items():
        setattr(reg, key, value)
    return ClientSettings(reg, bind_host="127.0.0.1")


