"""HTTP/1.1 over a raw socket: requests written as given (pipelined when several go in one
write), responses read in the order they arrive, bodies by their `Content-Length`."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from tests.support.server import Server


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def read_answers(sock: socket.socket, count: int) -> list[Answer]:
    """`count` responses, in the order they arrived on the socket."""
    data = b""
    answers: list[Answer] = []
    while len(answers) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection before answering"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection in the middle of a body"
            data += chunk
        answers.append(Answer(int(status_line.split(" ")[1]), headers, data[:length]))
        data = data[length:]
    return answers


def exchange(server: Server, requests: list[str], *, answers: int | None = None) -> list[Answer]:
    url = urlparse(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall("".join(requests).encode())  # in one write: pipelined when there are several
        return read_answers(sock, answers if answers is not None else len(requests))
