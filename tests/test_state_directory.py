"""The state directory: owner-only, atomic, and usable after a kill -9 in the middle of a write."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import stat
import sys
from pathlib import Path as FsPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.core.model import ObjectLink
from agent.core.path import Path
from agent.state import StateDirectory, StateDirectoryError, TreeSnapshot
from agent.state.snapshot import decode_value, encode_value

WRITER = r"""
import sys
from pathlib import Path
from agent.state import StateDirectory
directory = StateDirectory(Path(sys.argv[1]))
directory.prepare()
n = 0
print("ready", flush=True)
while True:
    n += 1
    directory.write_json("tree.json", {"n": n, "padding": "x" * 300_000, "check": n * 7})
"""


async def test_kill_9_during_writes_leaves_a_usable_state(tmp_path: FsPath) -> None:
    rng = random.Random(7)
    state = tmp_path / "state"
    last = 0
    for _ in range(12):
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(state),
                                                    stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 10)).strip() == b"ready"
        await asyncio.sleep(rng.uniform(0.01, 0.15))
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        data = StateDirectory(state).read_json("tree.json")
        if data is None:
            continue  # killed before its first write finished: nothing, never half a document
        assert isinstance(data, dict) and data["check"] == data["n"] * 7 and len(data["padding"]) == 300_000
        last = max(last, data["n"])
    assert last > 0
    assert not list(state.glob("*.corrupt-*")), "no write was ever seen half done"


def test_corrupt_document_is_set_aside_not_deleted(tmp_path: FsPath, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    directory = StateDirectory(tmp_path)
    directory.prepare()
    (tmp_path / "tree.json").write_text('{"version": 1, "accou')
    assert directory.read_json("tree.json") is None
    aside = list(tmp_path.glob("tree.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"version": 1, "accou'
    assert len([r for r in caplog.records if "tree.json" in r.getMessage()]) == 1
    assert not (tmp_path / "tree.json").exists()


def test_loose_permissions_are_tightened(tmp_path: FsPath) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    (state / "tree.json").write_text("{}")
    os.chmod(state / "tree.json", 0o644)
    StateDirectory(state).prepare()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "tree.json").stat().st_mode) == 0o600


def test_a_file_in_the_way_is_a_clear_error(tmp_path: FsPath) -> None:
    (tmp_path / "state").write_text("")
    with pytest.raises(StateDirectoryError, match="state"):
        StateDirectory(tmp_path / "state").prepare()


resource_values = st.one_of(
    st.text(max_size=20), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.booleans(),
    st.binary(max_size=20), st.builds(ObjectLink, st.integers(0, 65535), st.integers(0, 65535)),
    st.dictionaries(st.integers(0, 65535), st.integers(-100, 100), max_size=4),
)


@given(resource_values)
def test_values_round_trip_through_json(value: object) -> None:
    assert decode_value(json.loads(json.dumps(encode_value(value)))) == value


@given(st.dictionaries(st.integers(1, 65534), st.dictionaries(st.integers(0, 100), resource_values, max_size=3),
                       max_size=3),
       st.dictionaries(st.builds(Path, st.integers(1, 65534), st.integers(0, 10), st.integers(0, 100)),
                       resource_values, max_size=4))
def test_snapshots_round_trip(created: dict[int, dict[int, object]], written: dict[Path, object]) -> None:
    snap = TreeSnapshot(server_uri="coaps://x:5684", bootstrapped=True,
                        accounts={0: {1: {0: "coaps://x:5684", 3: b"id", 5: b"key"}}},
                        created={Path(3303, iid): vals for iid, vals in created.items()},  # type: ignore[misc]
                        written=written)  # type: ignore[arg-type]
    again = TreeSnapshot.from_json(json.loads(json.dumps(snap.to_json())))
    assert again == snap
    assert "key" not in repr(again)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                                         max_size=3), max_leaves=10))
def test_any_json_is_a_snapshot_or_a_value_error(data: object) -> None:
    try:
        TreeSnapshot.from_json(data)
    except ValueError:
        pass
