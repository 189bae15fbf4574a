"""The hub benchmarks' load client and load shapes: a minimal keep-alive HTTP client, open and
closed loops, and the server's CPU around a measurement.

Open loop means each request is sent at its scheduled time whether or not earlier ones came back, so
a slow server shows up as latency, not as a politely slower client.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psutil

from bench._common import cpu_seconds, percentile


def server_cpu(proc: subprocess.Popen[bytes] | None) -> float:
    """CPU seconds of a server process and its children (uvicorn workers)."""
    if proc is None:
        return 0.0
    try:
        p = psutil.Process(proc.pid)
        total = sum(p.cpu_times()[:2])
        for child in p.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += sum(child.cpu_times()[:2])
        return total
    except psutil.NoSuchProcess:
        return 0.0


IDLE_REUSE_S = 3.0


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawClient:
    """A minimal HTTP/1.1 keep-alive client for the load (pre-built bytes over asyncio streams).

    httpx costs ~4 ms of client CPU per request here, more than the trivial server spends answering,
    so with both on 2 cores it would measure the client. This one only writes bytes and reads the
    status line, headers and Content-Length body; connections are pooled up to ``size``.
    """

    def __init__(self, url: str, size: int = 256) -> None:
        u = httpx.URL(url)
        self.host, self.port = u.host, u.port or 80
        self.size = size
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open = 0
        # Requests waiting for a connection, served first come first served: a freed connection is
        # handed to the oldest waiter (a plain condition variable let newer requests take it first,
        # and an unlucky request waited seconds, which showed as server latency).
        self._waiters: collections.deque[asyncio.Future[_Conn | None]] = collections.deque()

    async def _get(self) -> _Conn:
        now = time.monotonic()
        while self._idle:
            reader, writer, used = self._idle.pop()
            if now - used < IDLE_REUSE_S:
                return reader, writer
            writer.close()  # the server may be closing it (uvicorn's keep-alive is 5 s)
            self._open -= 1
        if self._open < self.size and not self._waiters:
            self._open += 1
            return await self._connect()
        fut: asyncio.Future[_Conn | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        conn = await fut
        return conn if conn is not None else await self._connect()  # None: its slot, to open anew

    async def prime(self, n: int) -> None:
        """Have ``n`` connections open and idle, as edge nodes keep theirs open (each node's delivery
        holds one keep-alive connection). A connection opened during a burst waits for several turns
        of a busy server's event loop (accept, then read) before its request is even parsed, which
        would count as intake latency although an edge never reconnects for each alert."""
        want = max(0, min(n, self.size) - self._open)
        self._open += want
        got = await asyncio.gather(*(self._connect() for _ in range(want)), return_exceptions=True)
        now = time.monotonic()
        for conn in got:
            if not isinstance(conn, BaseException):
                self._idle.append((*conn, now))

    async def _connect(self) -> _Conn:
        """Open a connection for a slot already counted in ``_open``."""
        try:
            return await asyncio.open_connection(self.host, self.port)
        except OSError:
            await self._put(None)
            raise

    async def _put(self, conn: _Conn | None) -> None:
        """Give back a connection (None: it was closed, its slot is free)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # (a cancelled request no longer waits)
                waiter.set_result(conn)
                return
        if conn is None:
            self._open -= 1
        else:
            self._idle.append((*conn, time.monotonic()))

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn = await self._get()
        reader, writer = conn
        try:
            writer.write(head.encode() + body)
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            if length:
                await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            writer.close()
            await self._put(None)
            raise
        if close:
            writer.close()
            await self._put(None)
        else:
            await self._put(conn)
        return status

    async def aclose(self) -> None:
        for _, writer, _used in self._idle:
            writer.close()
        self._idle.clear()


Request = Callable[[RawClient], Awaitable[int]]


def stats(lat: list[float], statuses: list[int], elapsed: float, sent: int) -> dict[str, Any]:
    ok = [s for s in statuses if 200 <= s < 300]
    return {
        "sent": sent, "ok": len(ok), "errors": sent - len(ok),
        "error_statuses": sorted({s for s in statuses if not 200 <= s < 300}),
        "throughput_per_s": round(len(ok) / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": round(percentile(lat, 50) * 1000, 1), "p90_ms": round(percentile(lat, 90) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1), "max_ms": round(max(lat) * 1000, 1) if lat else None,
    }


async def scheduled(client: RawClient, rate: float, duration: float,
                    make: Callable[[int], Request]) -> tuple[list[tuple[int, float, int]], float]:
    """Send ``rate`` requests per second for ``duration`` s on schedule, whether or not earlier ones
    came back: (position, latency from its scheduled time, status) of each, sorted by position, and
    the seconds the whole run took."""
    loop = asyncio.get_running_loop()
    requests = [make(i) for i in range(round(rate * duration))]  # bodies built before the clock starts
    await client.prime(max(8, int(rate / 5)))  # open connections for 200 ms worth of requests
    out: list[tuple[int, float, int]] = []

    async def one(i: int, req: Request, due: float) -> None:
        try:
            status = await req(client)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 599
        out.append((i, loop.time() - due, status))

    start = loop.time() + 0.05
    tasks = []
    for i, req in enumerate(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, req, due)))
    await asyncio.gather(*tasks)
    return sorted(out), loop.time() - start


async def open_loop(client: RawClient, rate: float, duration: float,
                    make: Callable[[int], Request]) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``duration`` s on schedule; latency from the schedule."""
    rec, elapsed = await scheduled(client, rate, duration, make)
    out = stats([r[1] for r in rec], [r[2] for r in rec], elapsed, len(rec))
    out["offered_per_s"] = rate
    return out


async def closed_loop(client: RawClient, concurrency: int, duration: float,
                      make: Callable[[int], Request]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    statuses: list[int] = []
    counter = itertools.count()
    end = loop.time() + duration

    async def user() -> None:
        while loop.time() < end:
            req = make(next(counter))
            t = loop.time()
            try:
                status = await req(client)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status = 599
            lat.append(loop.time() - t)
            statuses.append(status)

    start = loop.time()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    out = stats(lat, statuses, loop.time() - start, len(statuses))
    out["concurrency"] = concurrency
    return out


async def measured(proc: subprocess.Popen[bytes] | None, coro: Awaitable[dict[str, Any]],
                   db_cpu: Callable[[], float] | None = None) -> dict[str, Any]:
    """Run a load and add CPU seconds to its figures: the server's, this client's and, with
    ``db_cpu``, a database server's (PostgreSQL works in processes of its own; SQLite's work is in
    the hub's)."""
    d0 = db_cpu() if db_cpu is not None else 0.0
    s0, c0, w0 = server_cpu(proc), cpu_seconds(), time.monotonic()
    out = await coro
    wall = time.monotonic() - w0
    out["server_cpu_s"] = round(server_cpu(proc) - s0, 2)
    out["client_cpu_s"] = round(cpu_seconds() - c0, 2)
    out["wall_s"] = round(wall, 2)
    if db_cpu is not None:
        out["db_cpu_s"] = round(db_cpu() - d0, 2)
    if out.get("ok"):
        out["server_cpu_ms_per_request"] = round(1000 * out["server_cpu_s"] / out["ok"], 2)
        if db_cpu is not None:
            out["db_cpu_ms_per_request"] = round(1000 * out["db_cpu_s"] / out["ok"], 2)
    return out


async def warm(c: RawClient, make: Callable[[int], Request], n: int = 30) -> None:
    for i in range(n):
        await make(i)(c)
