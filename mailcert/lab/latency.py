"""A delaying TCP proxy for the lab: the WAN link (or the tarpit) between the control machine and a host.

This kernel has no sch_netem (`tc qdisc ... netem delay` fails), so `lab up --delay MS` puts each host's
SSH port behind this proxy instead: it listens on the lab bridge address (the control side) and forwards
to the host. Modes, per route:

- `delay`: every chunk read on one side is written to the other `delay` ms after it arrived, each
  direction on its own (a one-way delay; a round trip costs twice that; throughput is not limited).
  The data is delayed, not just the connect.
- `stall`: a tarpit that accepts and never forwards a byte (nor connects to the target).
- `trickle`: a tarpit that connects, then passes the target's bytes on one per second.

One process serves every route of the lab: `python -m mailcert.lab.latency --ready-file F ROUTE...`,
ROUTE being `LISTEN_ADDR:PORT=TARGET_ADDR:PORT/MODE[:MS]`. It writes F once every listener is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.procs import RecordedProcess, start_when_ready, stop_started

MODES = ("delay", "stall", "trickle")
CHUNK = 65536
IN_FLIGHT = 256  # chunks queued per direction before reading pauses (bounded memory)
TRICKLE_EVERY = 1.0  # seconds between bytes in trickle mode


@dataclass(frozen=True)
class Route:
    """One listener: what it forwards to, and how."""

    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    mode: str = "delay"
    delay_ms: int = 0

    def spec(self) -> str:
        return (
            f"{self.listen_host}:{self.listen_port}={self.target_host}:{self.target_port}"
            f"/{self.mode}:{self.delay_ms}"
        )

    @classmethod
    def parse(cls, text: str) -> Route:
        try:
            listen, rest = text.split("=", 1)
            target, _, how = rest.partition("/")
            mode, _, ms = (how or "delay").partition(":")
            listen_host, listen_port = listen.rsplit(":", 1)
            target_host, target_port = target.rsplit(":", 1)
            route = cls(listen_host, int(listen_port), target_host, int(target_port), mode, int(ms or 0))
        except ValueError:
            raise LabError(f"latency proxy: bad route {text!r} (LISTEN:PORT=TARGET:PORT/MODE[:MS])") from None
        if route.mode not in MODES or route.delay_ms < 0:
            raise LabError(f"latency proxy: bad route {text!r}: mode is one of {', '.join(MODES)}, MS >= 0")
        return route


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader to writer, each chunk `delay` seconds after it was read; EOF is delayed the same."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=IN_FLIGHT)

    async def pump() -> None:
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    reading = asyncio.create_task(pump())
    try:
        await deliver()
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await reading


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        byte = await reader.read(1)
        if not byte:
            return
        await asyncio.sleep(TRICKLE_EVERY)
        writer.write(byte)
        await writer.drain()


async def _drain_until_closed(reader: asyncio.StreamReader) -> None:
    """Read and drop what the client sends until it gives up (nothing is kept)."""
    while await reader.read(CHUNK):
        pass


async def _serve_one(route: Route, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    writers = [client_w]
    try:
        if route.mode == "stall":
            await _drain_until_closed(client_r)
            return
        target_r, target_w = await asyncio.open_connection(route.target_host, route.target_port)
        writers.append(target_w)
        delay = route.delay_ms / 1000
        upstream = _forward(client_r, target_w, delay)
        downstream = (
            _trickle(target_r, client_w) if route.mode == "trickle" else _forward(target_r, client_w, delay)
        )
        await asyncio.gather(upstream, downstream)
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def serve(routes: Sequence[Route], ready_file: Path | None = None) -> None:
    """Listen on every route until cancelled (SIGTERM/SIGINT end the process cleanly)."""
    servers = []
    for route in routes:

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, route: Route = route) -> None:
            await _serve_one(route, r, w)

        servers.append(
            await asyncio.start_server(handle, route.listen_host, route.listen_port, reuse_address=True)
        )
    if ready_file is not None:
        ready_file.write_text("ready\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def argv_for(routes: Sequence[Route], ready_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mailcert.lab.latency",
        "--ready-file",
        str(ready_file),
        *(r.spec() for r in routes),
    ]


def start(routes: Sequence[Route], ready_file: Path, role: str = "latency proxy") -> RecordedProcess:
    """Start the proxy process for these routes; returns once every listener is bound."""
    if not routes:
        raise LabError("latency proxy: no routes")
    ready_file.unlink(missing_ok=True)
    process, _popen = start_when_ready(argv_for(routes, ready_file), ready_file.exists, role)
    return process


@contextlib.contextmanager
def running(routes: Sequence[Route]) -> Iterator[RecordedProcess]:
    """The proxy for the length of a with-block (tests): started, then stopped and reaped."""
    with tempfile.TemporaryDirectory(prefix="mailcert-latency-") as tmp:
        ready = Path(tmp) / "ready"
        process, popen = start_when_ready(argv_for(routes, ready), ready.exists, "latency proxy")
        try:
            yield process
        finally:
            stop_started(process, popen)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mailcert.lab.latency", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--ready-file", type=Path, help="written once every listener is bound")
    parser.add_argument("routes", nargs="+", metavar="LISTEN:PORT=TARGET:PORT/MODE[:MS]")
    args = parser.parse_args(argv)
    try:
        routes = [Route.parse(r) for r in args.routes]
        asyncio.run(serve(routes, args.ready_file))
    except LabError as exc:
        print(f"mailcert lab: {exc.line()}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"mailcert lab: latency proxy: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
