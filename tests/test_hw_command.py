"""Command bindings: real programs, run without a shell, with timeouts that kill."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.core.errors import InternalError, MethodNotAllowed, ServiceUnavailable
from agent.core.model import ResourceType
from agent.hardware import CommandBinding, HardwareConfigError
from agent.hardware.process import run_command


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a killed orphan may linger as a zombie until reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_read_parses_the_output_to_the_resource_type() -> None:
    binding = CommandBinding(rtype=ResourceType.FLOAT, read_command=["echo", " 21.5 "])
    assert await binding.read() == 21.5


async def test_read_with_a_pattern_picks_the_value() -> None:
    binding = CommandBinding(rtype=ResourceType.FLOAT, read_command=["echo", "temp=48.3'C"],
                             pattern=r"temp=(?P<value>[\d.]+)")
    assert await binding.read() == 48.3
    unnamed = CommandBinding(rtype=ResourceType.INTEGER, read_command=["printf", "a 1\nb 22\n"], pattern=r"^b (\d+)")
    assert await unnamed.read() == 22


async def test_read_of_a_multiple_resource_takes_one_instance_per_line() -> None:
    binding = CommandBinding(rtype=ResourceType.STRING, read_command=["printf", "10.0.0.2\n\nfe80::1\n"],
                             multiple=True)
    assert await binding.read() == {0: "10.0.0.2", 1: "fe80::1"}


async def test_opaque_read_returns_the_raw_bytes() -> None:
    binding = CommandBinding(rtype=ResourceType.OPAQUE, read_command=["printf", "\\001\\002 \\n"])
    assert await binding.read() == b"\x01\x02 \n"


async def test_read_failures_answer_service_unavailable() -> None:
    failing = CommandBinding(rtype=ResourceType.INTEGER, read_command=["sh", "-c", "echo broken >&2; exit 3"])
    with pytest.raises(ServiceUnavailable) as excinfo:
        await failing.read()
    assert "status 3" in excinfo.value.message and "broken" in excinfo.value.message

    missing = CommandBinding(rtype=ResourceType.INTEGER, read_command=["/nonexistent/sensor-tool"])
    with pytest.raises(ServiceUnavailable) as excinfo:
        await missing.read()
    assert "cannot run /nonexistent/sensor-tool" in excinfo.value.message

    garbage = CommandBinding(rtype=ResourceType.INTEGER, read_command=["echo", "n/a"])
    with pytest.raises(ServiceUnavailable) as excinfo:
        await garbage.read()
    assert "'n/a'" in excinfo.value.message

    unmatched = CommandBinding(rtype=ResourceType.INTEGER, read_command=["echo", "x"], pattern=r"y=(\d+)")
    with pytest.raises(ServiceUnavailable):
        await unmatched.read()


async def test_read_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    # The shell starts a child (sleep); both must be gone after the timeout.
    binding = CommandBinding(
        rtype=ResourceType.INTEGER,
        read_command=["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"],
        timeout=0.3,
    )
    started = asyncio.get_running_loop().time()
    with pytest.raises(ServiceUnavailable) as excinfo:
        await binding.read()
    assert asyncio.get_running_loop().time() - started < 2.0
    assert "did not finish within 0.3 s" in excinfo.value.message
    child = int(pidfile.read_text())
    await asyncio.sleep(0.05)
    assert not running(child)


async def test_write_passes_the_value_as_one_argument_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    binding = CommandBinding(rtype=ResourceType.STRING,
                             write_command=["sh", "-c", 'printf %s "$1" > "$0"', str(out)])
    hostile = "x; touch " + str(tmp_path / "pwned") + " $(id) `id`"
    await binding.write(hostile)
    assert out.read_text() == hostile
    assert not (tmp_path / "pwned").exists()


async def test_write_via_stdin_and_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    binding = CommandBinding(rtype=ResourceType.BOOLEAN, write_command=["sh", "-c", f"cat > {out}"],
                             value_via="stdin")
    notified: list[bool] = []
    binding.add_listener(lambda: notified.append(True))
    await binding.write(True)
    assert out.read_text() == "1\n"
    assert notified == [True]


async def test_write_failures_answer_internal_error(tmp_path: Path) -> None:
    failing = CommandBinding(rtype=ResourceType.INTEGER, write_command=["false"])
    with pytest.raises(InternalError) as excinfo:
        await failing.write(1)
    assert excinfo.value.code == (5, 0)
    slow = CommandBinding(rtype=ResourceType.INTEGER, write_command=["sleep", "10"], timeout=0.2)
    with pytest.raises(InternalError) as excinfo:
        await slow.write(1)
    assert "killed" in excinfo.value.message


async def test_execute_appends_arguments_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    binding = CommandBinding(rtype=ResourceType.NONE,
                             execute_command=["sh", "-c", 'echo "$#:$1" >> "$0"', str(out)])
    await binding.execute("")
    await binding.execute("5,'reason'")
    assert out.read_text().splitlines() == ["0:", "1:5,'reason'"]
    stdin_binding = CommandBinding(rtype=ResourceType.NONE, execute_command=["sh", "-c", f"cat > {out}"],
                                   value_via="stdin")
    await stdin_binding.execute("arg text")
    assert out.read_text() == "arg text\n"


async def test_operations_without_a_command_are_not_allowed() -> None:
    binding = CommandBinding(rtype=ResourceType.INTEGER, read_command=["echo", "1"])
    with pytest.raises(MethodNotAllowed):
        await binding.write(2)
    with pytest.raises(MethodNotAllowed):
        await binding.execute("")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"read_command": "cat /proc/loadavg"}, "read_command"),
        ({"read_command": []}, "read_command"),
        ({"read_command": ["echo", 3]}, "read_command"),
        ({}, "read_command"),
        ({"read_command": ["echo"], "pattern": "("}, "pattern"),
        ({"write_command": ["true"], "value_via": "env"}, "value_via"),
        ({"read_command": ["echo"], "timeout": 0}, "timeout"),
        ({"read_command": ["echo"], "poll_interval": -1}, "poll_interval"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(HardwareConfigError) as excinfo:
        CommandBinding(rtype=ResourceType.INTEGER, **kwargs)  # type: ignore[arg-type]
    assert excinfo.value.field == field


async def test_poll_interval_turns_output_changes_into_notifications(tmp_path: Path) -> None:
    source = tmp_path / "value"
    source.write_text("1\n")
    binding = CommandBinding(rtype=ResourceType.INTEGER, read_command=["cat", str(source)], poll_interval=0.02)
    changed = asyncio.Event()
    binding.add_listener(changed.set)
    await binding.start()
    try:
        await asyncio.sleep(0.08)
        assert not changed.is_set()  # same value: no notification
        source.write_text("2\n")
        await asyncio.wait_for(changed.wait(), 2.0)
        assert await binding.read() == 2
    finally:
        await binding.close()


async def test_run_command_returns_output_and_status() -> None:
    result = await run_command(["sh", "-c", "cat; echo err >&2; exit 4"], stdin=b"in", timeout=5, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (4, b"in", b"err\n")
