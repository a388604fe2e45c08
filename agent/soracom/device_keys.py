"""Device secret keys as the Soracom console shows them, and the files that hold them.

A SIM-less Inventory device gets a device id (its PSK identity, in ASCII) and a secret key: base64 of
16 random bytes. DTLS wants the decoded bytes. A key on the command line shows in the process list,
and a key file that others can read is as good as published, so both get a warning.
"""

from __future__ import annotations

import base64
import binascii
import stat
from pathlib import Path


class DeviceKeyError(ValueError):
    """A key that cannot be used; the message names where it came from and the fix."""


def decode_device_key(text: str, source: str) -> bytes:
    """The bytes of a base64 secret key; ``source`` names where it came from, for the error."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise DeviceKeyError(f"{source}: the key is not base64 ({exc}); "
                             "fix: paste the secret key exactly as the Soracom console issued it") from None
    if not key:
        raise DeviceKeyError(f"{source}: the key is empty; fix: paste the device's secret key")
    return key


def read_device_key_file(path: Path) -> tuple[bytes, str | None]:
    """The key in ``path``, and a warning when the file is readable by others."""
    try:
        text = path.read_text(encoding="ascii")
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise DeviceKeyError(f"{path}: {exc.strerror}; fix: give the file that holds the device's secret key") \
            from None
    except UnicodeDecodeError:
        raise DeviceKeyError(f"{path}: not a text file; fix: put the base64 secret key in it, alone") from None
    key = decode_device_key(text, str(path))
    warning = None
    if mode & 0o077:
        warning = (f"{path} holds a secret key and is readable by others (mode {mode:04o}); "
                   f"fix: chmod 600 {path}")
    return key, warning
