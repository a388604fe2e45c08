"""Run inside a network namespace of its own (``unshare --net``): a NAT re-binds while the host gains
an address, and the agent, which sees the address appear, updates at once.

Prints the seconds from the change to the server reading the agent again. Used by
``test_recovery.py``; it touches no interface outside its namespace and sends nothing off loopback.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recovery_harness import agent_behind_proxy, time_to_reachable


async def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        # Lifetime 120: the next scheduled Update is 108 s away, so only the address change explains a quick return.
        async with agent_behind_proxy(Path(tmp), "mover", lifetime=120) as s:
            await s.server.wait_registered("mover", 20)
            await time_to_reachable(s.server, "mover", 20)
            updates = s.server.registration("mover").updates
            s.proxy.rebind()
            subprocess.run(["ip", "addr", "add", "192.0.2.9/32", "dev", "lo"], check=True)
            took = await time_to_reachable(s.server, "mover", 20)
            assert s.server.registration("mover").updates > updates
            print(f"{took:.2f}", "network changed" in s.log_text())


if __name__ == "__main__":
    asyncio.run(main())
