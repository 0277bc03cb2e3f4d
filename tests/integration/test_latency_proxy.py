"""The lab's latency proxy (mailcert/lab/latency.py) in front of a real TCP server on 127.0.0.1: bytes
cross it intact both ways, end of stream is passed on, and a stalling tarpit never reaches the target."""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from mailcert.lab import LabError
from mailcert.lab.latency import Route, running


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.accepted += 1  # type: ignore[attr-defined]
        while data := self.request.recv(65536):
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)  # the client's EOF, echoed


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    accepted = 0


@pytest.fixture
def echo() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _route(echo: _Server, mode: str, delay_ms: int = 0) -> Route:
    return Route("127.0.0.1", _free_port(), "127.0.0.1", echo.server_address[1], mode, delay_ms)


def _round_trip(port: int, payload: bytes) -> bytes:
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
        sender.start()
        while data := sock.recv(65536):
            received += data
        sender.join()
    return bytes(received)


@pytest.mark.parametrize("delay_ms", [0, 30])
def test_bytes_cross_the_proxy_intact_both_ways_and_eof_is_passed_on(echo: _Server, delay_ms: int) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)  # many chunks, not a multiple of any buffer size
    route = _route(echo, "delay", delay_ms)
    with running([route]):
        back = _round_trip(route.listen_port, payload)
        small = _round_trip(route.listen_port, b"SSH-2.0-x\r\n")
    # The echo server only ends its side after the proxy passed our EOF on: the loop above ended.
    assert len(back) == len(payload)
    assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
    assert small == b"SSH-2.0-x\r\n"
    assert echo.accepted == 2


def test_several_connections_at_once_keep_their_own_bytes(echo: _Server) -> None:
    route = _route(echo, "delay", 20)
    payloads = [os.urandom(200_000 + i) for i in range(8)]
    results: dict[int, bytes] = {}
    with running([route]):
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, _round_trip(route.listen_port, payloads[i]))
            )
            for i in range(len(payloads))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [results[i] for i in range(len(payloads))] == payloads


def test_a_stalling_tarpit_accepts_and_never_reaches_the_target(echo: _Server) -> None:
    route = _route(echo, "stall")
    with running([route]), socket.create_connection(("127.0.0.1", route.listen_port), timeout=30) as sock:
        sock.sendall(b"SSH-2.0-client\r\n")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # accepted, and nothing comes back
    assert echo.accepted == 0


def test_a_trickling_tarpit_passes_bytes_on_in_order(echo: _Server) -> None:
    route = _route(echo, "trickle")
    with running([route]):
        assert _round_trip(route.listen_port, b"ok") == b"ok"


@pytest.mark.parametrize("text", ["10.0.0.1:22", "a:1=b:2/sideways", "a:x=b:2", "a:1=b:2/delay:-5"])
def test_a_bad_route_is_one_lab_error(text: str) -> None:
    with pytest.raises(LabError, match="bad route"):
        Route.parse(text)


def test_route_specs_round_trip() -> None:
    route = Route("10.213.0.1", 22011, "10.213.0.11", 22, "delay", 50)
    assert Route.parse(route.spec()) == route
    assert Route.parse("127.0.0.1:1=127.0.0.1:2") == Route("127.0.0.1", 1, "127.0.0.1", 2, "delay", 0)
