"""Free TCP ports on 127.0.0.1 (never a fixed port in tests)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port that was free a moment ago (the OS picks it; a tiny race remains, as always)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
