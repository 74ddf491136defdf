"""Remote-evaluation answers kept for requests that repeat, while the flags stay the same.

A browser or mobile SDK fetches its variants on every start and page load, so one user's
`/sdk/v2/vardata` request comes back unchanged, header for header, until the user changes.
The answer depends only on the compiled flags and the request (the engine is pure), so one
cache lives exactly as long as one build of a deployment's flags and holds the JSON body by
the request's encoded user and flag keys. Least recently used answers go first once the bytes
held (bodies, keys and a fixed allowance per entry for the objects around them) pass the
budget. Used from the event loop only: no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

# Per deployment: about a thousand answers of a 50-flag deployment (about 8 KB each).
BUDGET_BYTES = 8 * 1024 * 1024
# What Python holds per entry besides the bytes themselves (the dict's entry, the tuple, the
# objects' headers), rounded up.
ENTRY_OVERHEAD = 256

RequestIdentity = str | bytes
"""The user and flag keys as the SDK encoded them: equal identities decode to equal requests."""


class Answer(NamedTuple):
    body: bytes  # the JSON object of variants by flag key
    # The flags it evaluated, counted again whenever it is reused: the build's tuple of deployed
    # keys (shared, so it costs no memory) or the few a request named.
    flags: tuple[str, ...]


class AnswerCache:
    __slots__ = ("_answers", "_budget", "_held")

    def __init__(self, budget_bytes: int = BUDGET_BYTES) -> None:
        self._answers: OrderedDict[RequestIdentity, Answer] = OrderedDict()
        self._budget = budget_bytes
        self._held = 0

    def get(self, identity: RequestIdentity) -> Answer | None:
        answer = self._answers.get(identity)
        if answer is not None:
            self._answers.move_to_end(identity)
        return answer

    def put(self, identity: RequestIdentity, answer: Answer) -> None:
        size = _size(identity, answer)
        if size > self._budget or identity in self._answers:
            return
        self._answers[identity] = answer
        self._held += size
        while self._held > self._budget:
            old_identity, old = self._answers.popitem(last=False)
            self._held -= _size(old_identity, old)

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def held(self) -> int:
        """Bytes counted against the budget."""
        return self._held


def _size(identity: RequestIdentity, answer: Answer) -> int:
    return len(identity) + len(answer.body) + ENTRY_OVERHEAD
