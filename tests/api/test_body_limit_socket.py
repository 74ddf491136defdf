"""A body over the limit gets its 413 over a real socket: the client finishes sending, then
reads the answer, instead of meeting a reset connection."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

from tests.support.server import Server

TOO_LARGE = 5 * 1024 * 1024  # five times the default 1 MiB limit


def _exchange(server: Server, head: bytes, body_chunks: list[bytes]) -> bytes:
    url = urlparse(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)  # a reset here is the failure this test is about
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return answer
            answer += data


def _status_and_body(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_body_limit__declared_length_over_limit__client_reads_413(server: Server, admin_key: str) -> None:
    # Given
    head = (f"POST /api/1/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {TOO_LARGE}\r\n\r\n").encode()

    # When
    answer = _exchange(server, head, [b" " * 65536] * (TOO_LARGE // 65536))

    # Then
    status, body = _status_and_body(answer)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"  # type: ignore[index]


def test_body_limit__chunked_body_over_limit__client_reads_413(server: Server, admin_key: str) -> None:
    # Given: no Content-Length, so the limit is only found while reading
    head = (f"POST /api/1/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin_key}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"

    # When
    answer = _exchange(server, head, [chunk] * (TOO_LARGE // 65536) + [b"0\r\n\r\n"])

    # Then
    status, _ = _status_and_body(answer)
    assert status == 413
