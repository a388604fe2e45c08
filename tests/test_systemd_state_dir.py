"""The state directory is made private at start, or refused with the path and the fix."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from support import run_cli

from agent.state import StateDirError, clear_state_dir, secure_state_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_loose_permissions_are_tightened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    (state / "queue").mkdir(parents=True)
    (state / "bootstrap.json").write_text("{}")
    (state / "queue" / "0001.msg").write_text("x")
    (state / "hook.sh").write_text("#!/bin/sh\n")
    os.chmod(state, 0o755)
    os.chmod(state / "queue", 0o777)
    os.chmod(state / "bootstrap.json", 0o644)
    os.chmod(state / "queue" / "0001.msg", 0o666)
    os.chmod(state / "hook.sh", 0o755)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the agent's")
    os.chmod(outside, 0o644)
    (state / "link").symlink_to(outside)
    with caplog.at_level(logging.WARNING):
        assert secure_state_dir(state) == state.resolve()
    assert mode(state) == 0o700 and mode(state / "queue") == 0o700
    assert mode(state / "bootstrap.json") == 0o600 and mode(state / "queue" / "0001.msg") == 0o600
    assert mode(state / "hook.sh") == 0o700, "the owner keeps what it had"
    assert mode(outside) == 0o644, "a symbolic link's target is not the state directory's"
    assert f"state directory {state.resolve()} was open to other users" in caplog.text
    assert "bootstrap.json (0644 -> 0600)" in caplog.text


def test_a_private_directory_is_left_as_it_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "ro.json").write_text("{}")
    os.chmod(state / "ro.json", 0o400)
    with caplog.at_level(logging.WARNING):
        secure_state_dir(state)
    assert mode(state / "ro.json") == 0o400 and not caplog.text


def test_a_missing_directory_is_created_private_through_a_symlink(tmp_path: Path) -> None:
    # systemd's DynamicUser= state directory is reached through a symlink to /var/lib/private/.
    real = tmp_path / "private" / "lwm2m-agent"
    real.parent.mkdir()
    (tmp_path / "lwm2m-agent").symlink_to(real)
    assert secure_state_dir(tmp_path / "lwm2m-agent") == real
    assert real.is_dir() and mode(real) == 0o700


def test_a_file_is_refused_with_the_path_and_the_fix(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "state"
    not_a_dir.write_text("")
    with pytest.raises(StateDirError) as excinfo:
        secure_state_dir(not_a_dir)
    assert str(not_a_dir) in str(excinfo.value) and "fix: give --state-dir a directory" in str(excinfo.value)


def test_what_another_user_owns_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        state = tmp_path / "state"
        state.mkdir(mode=0o700)
        foreign = state / "bootstrap.json"
        foreign.write_text("{}")
        os.chown(foreign, 12345, 12345)
        expected_path, owner = foreign, 12345
        given = state
    else:
        given = Path("/usr/share")  # root's; refused before anything is touched
        expected_path, owner = given, 0
    with pytest.raises(StateDirError) as excinfo:
        secure_state_dir(given)
    message = str(excinfo.value)
    assert f"state directory {expected_path}: is owned by uid {owner}" in message
    assert f"fix: chown -R {os.geteuid()} {given}" in message


def test_clear_keeps_only_what_it_is_told(tmp_path: Path) -> None:
    (tmp_path / "queue").mkdir()
    (tmp_path / "queue" / "1").write_text("x")
    (tmp_path / "bootstrap.json").write_text("{}")
    (tmp_path / "status.sock").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "queue")
    assert clear_state_dir(tmp_path, keep=frozenset({"status.sock"})) == ["bootstrap.json", "link", "queue"]
    assert [p.name for p in tmp_path.iterdir()] == ["status.sock"]


async def test_run_refuses_a_state_dir_it_cannot_use(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file" / "state"
    blocked.parent.write_text("")
    code, out = await run_cli("run", "--server", "coap://127.0.0.1:9", "--bind", "127.0.0.1",
                              "--state-dir", str(blocked))
    assert code == 1
    assert f"Error: state directory {blocked}: cannot create it (Not a directory); fix: " in out
