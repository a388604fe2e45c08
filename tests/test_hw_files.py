"""File bindings in inventoryd's layout: value files, hooks, executables, atomic writes."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from agent.core.errors import InternalError, MethodNotAllowed, ServiceUnavailable
from agent.core.model import Operations, ResourceModel, ResourceType
from agent.hardware import ExecutableFile, FileBinding, HardwareConfigError, file_tree_binding
from agent.hardware.files import replace_file_atomically


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


async def test_read_strips_and_parses_the_content(tmp_path: Path) -> None:
    (tmp_path / "level").write_text(" 87\n")
    assert await FileBinding(path=tmp_path / "level", rtype=ResourceType.INTEGER).read() == 87
    (tmp_path / "flag").write_text("true\n")
    assert await FileBinding(path=tmp_path / "flag", rtype=ResourceType.BOOLEAN).read() is True


async def test_opaque_file_is_read_raw(tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"\x00\xff\n")
    assert await FileBinding(path=tmp_path / "blob", rtype=ResourceType.OPAQUE).read() == b"\x00\xff\n"


async def test_missing_or_bad_file_answers_service_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable) as excinfo:
        await FileBinding(path=tmp_path / "absent", rtype=ResourceType.INTEGER).read()
    assert "absent" in excinfo.value.message and "No such file" in excinfo.value.message
    (tmp_path / "text").write_text("high\n")
    with pytest.raises(ServiceUnavailable) as excinfo:
        await FileBinding(path=tmp_path / "text", rtype=ResourceType.FLOAT).read()
    assert "'high'" in excinfo.value.message
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(ServiceUnavailable):
        await FileBinding(path=tmp_path / "binary", rtype=ResourceType.STRING).read()


async def test_write_replaces_the_file_atomically_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "setpoint"
    target.write_text("1\n")
    target.chmod(0o640)
    inode_before = target.stat().st_ino
    binding = FileBinding(path=target, rtype=ResourceType.FLOAT)
    notified: list[bool] = []
    binding.add_listener(lambda: notified.append(True))
    await binding.write(22.5)
    assert target.read_text() == "22.5\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode_before  # a new file took the old one's place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["setpoint"]  # no temporary left behind
    assert await binding.read() == 22.5
    assert notified == [True]


async def test_opaque_write_is_raw(tmp_path: Path) -> None:
    binding = FileBinding(path=tmp_path / "blob", rtype=ResourceType.OPAQUE)
    await binding.write(b"\x00\x01")
    assert (tmp_path / "blob").read_bytes() == b"\x00\x01"


async def test_failed_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "value"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        replace_file_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["value"]


async def test_write_into_a_missing_directory_answers_internal_error(tmp_path: Path) -> None:
    binding = FileBinding(path=tmp_path / "no" / "such" / "dir", rtype=ResourceType.STRING)
    with pytest.raises(InternalError) as excinfo:
        await binding.write("x")
    assert excinfo.value.code == (5, 0)


async def test_read_only_file_binding_refuses_writes(tmp_path: Path) -> None:
    binding = FileBinding(path=tmp_path / "x", rtype=ResourceType.STRING, writable=False)
    with pytest.raises(MethodNotAllowed):
        await binding.write("x")


async def test_hooks_take_over_read_and_write(tmp_path: Path) -> None:
    log = tmp_path / "written"
    read_hook = script(tmp_path / "13.read", "date +%s")
    write_hook = script(tmp_path / "13.write", f"cat > {log}")
    binding = FileBinding(path=tmp_path / "13", rtype=ResourceType.TIME, read_hook=read_hook,
                          write_hook=write_hook)
    value = await binding.read()
    assert isinstance(value, int) and value > 1_600_000_000
    await binding.write(1_700_000_000)
    assert log.read_text() == "1700000000\n"
    assert not (tmp_path / "13").exists()  # the hook handled the write, not the file


async def test_failing_hooks_map_to_503_and_500(tmp_path: Path) -> None:
    broken = script(tmp_path / "broken", "echo sensor offline >&2; exit 1")
    binding = FileBinding(path=tmp_path / "v", rtype=ResourceType.INTEGER, read_hook=broken, write_hook=broken)
    with pytest.raises(ServiceUnavailable) as excinfo:
        await binding.read()
    assert "sensor offline" in excinfo.value.message
    with pytest.raises(InternalError):
        await binding.write(1)


async def test_executable_file_gets_the_arguments_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "args"
    program = script(tmp_path / "4", f"cat > {out}")
    await ExecutableFile(path=program).execute("0='now'")
    assert out.read_text() == "0='now'"


async def test_executable_file_problems_answer_internal_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    with pytest.raises(InternalError) as excinfo:
        await ExecutableFile(path=plain).execute("")
    assert "chmod +x" in excinfo.value.message
    failing = script(tmp_path / "fails", "exit 2")
    with pytest.raises(InternalError) as excinfo:
        await ExecutableFile(path=failing).execute("")
    assert "status 2" in excinfo.value.message


async def test_file_tree_binding_follows_inventoryds_layout(tmp_path: Path) -> None:
    instance = tmp_path / "3" / "0"
    instance.mkdir(parents=True)
    (instance / "0").write_text("ACME\n")
    (instance / "9").write_text("55\n")
    script(instance / "9.read", "echo 56")
    reboot_log = tmp_path / "rebooted"
    script(instance / "4", f"touch {reboot_log}")
    models = {
        0: ResourceModel(0, "Manufacturer", Operations.R, ResourceType.STRING),
        9: ResourceModel(9, "Battery Level", Operations.R, ResourceType.INTEGER),
        4: ResourceModel(4, "Reboot", Operations.E, ResourceType.NONE),
        14: ResourceModel(14, "UTC Offset", Operations.RW, ResourceType.STRING),
    }
    bindings = {rid: file_tree_binding(tmp_path, 3, 0, model) for rid, model in models.items()}
    assert await bindings[0].read() == "ACME"
    assert await bindings[9].read() == 56  # the .read hook wins over the file
    await bindings[4].execute("")
    assert reboot_log.exists()
    await bindings[14].write("+09:00")
    assert (instance / "14").read_text() == "+09:00\n"
    with pytest.raises(MethodNotAllowed):
        await bindings[0].write("other")


async def test_poll_interval_notices_another_program_writing_the_file(tmp_path: Path) -> None:
    target = tmp_path / "humidity"
    target.write_text("40\n")
    binding = FileBinding(path=target, rtype=ResourceType.INTEGER, poll_interval=0.02)
    changed = asyncio.Event()
    binding.add_listener(changed.set)
    await binding.start()
    try:
        await asyncio.sleep(0.06)
        assert not changed.is_set()
        replace_file_atomically(target, b"41\n")
        await asyncio.wait_for(changed.wait(), 2.0)
        assert await binding.read() == 41
    finally:
        await binding.close()


def test_bad_arguments_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(HardwareConfigError) as excinfo:
        FileBinding(path="", rtype=ResourceType.STRING)
    assert excinfo.value.field == "path"
    with pytest.raises(HardwareConfigError) as excinfo:
        FileBinding(path=tmp_path / "x", rtype=ResourceType.NONE)
    assert excinfo.value.field == "rtype"
    with pytest.raises(HardwareConfigError) as excinfo:
        FileBinding(path=tmp_path / "x", rtype=ResourceType.STRING, hook_timeout=0)
    assert excinfo.value.field == "hook_timeout"
