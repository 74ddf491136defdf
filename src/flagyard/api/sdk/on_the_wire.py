"""The SDK requests `flagyard serve` answers on the connection (flagyard/answering_protocol.py),
each handed to the answerer of its path: the config and remote evaluation."""

from __future__ import annotations

from flagyard.answering_protocol import Headers, ReadBody
from flagyard.api.sdk.config_on_the_wire import CONFIG_PATH, ConfigOnTheWire
from flagyard.api.sdk.vardata_on_the_wire import VARDATA_PATH, VardataOnTheWire


class OnTheWire:
    def __init__(self, config: ConfigOnTheWire, vardata: VardataOnTheWire) -> None:
        self._config = config
        self._vardata = vardata

    def answer(self, method: bytes, target: bytes, headers: Headers,
               server_headers: Headers) -> list[bytes] | ReadBody | None:
        path = target.partition(b"?")[0]
        if path == CONFIG_PATH:
            return self._config.answer(method, target, headers, server_headers)
        if path == VARDATA_PATH:
            return self._vardata.answer(method, target, headers, server_headers)
        return None

    def answer_with_body(self, method: bytes, target: bytes, headers: Headers, body: bytes,
                         server_headers: Headers) -> list[bytes] | None:
        # Only remote evaluation asks for bodies.
        return self._vardata.answer_with_body(method, target, headers, body, server_headers)
