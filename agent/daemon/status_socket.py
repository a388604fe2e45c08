"""The status socket: a unix stream socket in the state directory that answers with the agent's status.

A socket rather than a status file: what ``lwm2m-agent status`` prints is the running agent's
state at that moment, and an agent that is gone shows as gone (nothing listens) instead of as a
file that stays stale. It lives in the state directory, which is 0700, so only the agent's user
and root can connect -- the same people who can read the credentials beside it.

The protocol is the simplest one: connect, read one JSON object (``status.AgentStatus``) until
the agent closes, done. The socket also keeps two agents off one state directory: an agent that
finds another one answering there refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from ..state import StateDirError
from .status import AgentStatus, StatusFormatError

log = logging.getLogger(__name__)

SOCKET_NAME = "status.sock"
MAX_ANSWER = 1 << 20
# sockaddr_un.sun_path is 108 bytes on Linux, the terminating NUL included.
MAX_SOCKET_PATH = 107


class StatusUnavailable(Exception):
    """No running agent answered on the state directory's socket; the message says why and what to do."""


def socket_path(state_dir: Path) -> Path:
    return state_dir / SOCKET_NAME


class StatusServer:
    """Serves ``collect()`` to every connection on ``state_dir/status.sock``."""

    def __init__(self, state_dir: Path, collect: Callable[[], AgentStatus]) -> None:
        self.path = socket_path(state_dir)
        self.collect = collect
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> bool:
        """Listen; False (logged) when the path is too long for a unix socket.

        Raises StateDirError when another agent answers on the socket already.
        """
        if len(str(self.path).encode()) > MAX_SOCKET_PATH:
            log.warning("no status socket: %s is longer than a unix socket path may be (%d bytes); "
                        "`lwm2m-agent status` needs a shorter --state-dir", self.path, MAX_SOCKET_PATH)
            return False
        if self.path.exists() or self.path.is_symlink():
            try:
                other = await query_status(self.path.parent, timeout=2.0)
            except StatusUnavailable:
                self.path.unlink()  # left by an agent that is gone
            except StatusFormatError as exc:
                raise StateDirError(self.path, f"something else answers on it ({exc})",
                                    "stop it, or give this agent its own --state-dir") from None
            else:
                raise StateDirError(self.path.parent, f"another agent (pid {other.pid}, endpoint {other.endpoint}) "
                                    "is running with it", "stop that agent, or give this one its own --state-dir")
        self._server = await asyncio.start_unix_server(self._answer, path=str(self.path))
        return True

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(self.collect().to_json() + b"\n")
            await writer.drain()
        except Exception:
            log.exception("status request failed")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


async def query_status(state_dir: Path, timeout: float = 5.0) -> AgentStatus:
    """Ask the agent running with ``state_dir``; StatusUnavailable when none answers.

    Raises StatusFormatError when something answers that is not an agent of this version.
    """
    path = socket_path(state_dir)
    if not path.exists() and not path.is_symlink():
        if not state_dir.is_dir():
            raise StatusUnavailable(f"{state_dir} does not exist or is not a directory: give the --state-dir "
                                    "the agent runs with")
        raise StatusUnavailable(f"no agent is running with state directory {state_dir} (no {path}); start it "
                                "(systemctl start lwm2m-agent) or give the --state-dir it runs with")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path), limit=MAX_ANSWER), timeout)
    except PermissionError:
        raise StatusUnavailable(f"{path}: permission denied; run this as the agent's user or as root (sudo)") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise StatusUnavailable(f"no agent is running with state directory {state_dir} ({path} is left from "
                                "one that stopped)") from None
    except TimeoutError:
        raise StatusUnavailable(f"{path}: the agent did not accept the connection in {timeout:g} s") from None
    except OSError as exc:
        raise StatusUnavailable(f"{path}: {exc.strerror or exc}") from None
    try:
        data = await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError:
        raise StatusUnavailable(f"{path}: the agent did not answer in {timeout:g} s") from None
    except (ValueError, OSError) as exc:  # longer than MAX_ANSWER, or the connection broke
        raise StatusFormatError(f"{path}: unreadable answer ({exc})") from None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not data.endswith(b"\n"):
        raise StatusFormatError(f"{path}: the answer ended early ({len(data)} bytes)")
    return AgentStatus.from_json(data)
