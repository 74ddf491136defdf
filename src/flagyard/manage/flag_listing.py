"""The flag and experiment lists: whole answers kept while their projects stand still, else
joined from documents rendered once per flag version.

Profiling a list of 1,000 flags showed nearly all of its time spent turning rows into flags,
flags into documents and documents into JSON, the same work for the same flags on every
request. Every change to a flag's row, variants or deployment links is saved together with a
higher `version` (manage/changes.py), so a flag's id and version name exactly one rendering.
A list reads the page's ids and versions (one narrow query), loads and renders only the flags
whose current version this process has not rendered yet, and joins the bytes it holds.

With that, reading the 1,000 (id, version) rows and joining a megabyte were most of what was
left (ADR 0101). The same change that raises a flag's version also bumps its project's revision,
in the same transaction, as serving relies on. So each request first reads the revision of the
projects it may show (one row); while it equals the one a kept answer was built at, that answer's
bytes are sent again as they are.

Both are read from the database on every request, so a change made by any process shows in
the next list; nothing here waits for a notification.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from flagyard.manage.flags import FlagFilter, matches_nothing, visible_projects
from flagyard.manage.keys import revoked_key
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.ports import UnitOfWorkFactory

# About 1 KiB a typical flag: a ceiling of tens of MiB, above any page a list shows at once.
MAX_RENDERED = 50_000
# Whole answers kept, all pages and keys together: a few dozen full pages of 1,000 flags.
MAX_ANSWER_BYTES = 64 * 1024 * 1024

Envelope = Callable[[str, Page[bytes]], bytes]
"""The response body of a page: the list's name (`flags`) and its rendered items."""
Revision = tuple[int, int]  # `FlagStore.revision`: equal while no flag in view changed


class RenderedFlags:
    """Flags rendered by `render` (their list entry as bytes), kept by id with their version,
    and whole answers wrapped by `envelope`, kept with the revision they were built at."""

    def __init__(self, uow_factory: UnitOfWorkFactory, render: Callable[[Flag], bytes],
                 envelope: Envelope, max_entries: int = MAX_RENDERED,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self._uow = uow_factory
        self._render = render
        self._envelope = envelope
        self._max = max_entries
        self._rendered: dict[int, tuple[int, bytes]] = {}
        self._lock = threading.Lock()
        self._filling = threading.Lock()
        self._answers = _Answers(max_answer_bytes)
        self._answering = threading.Lock()

    def answer(self, principal: Principal, kind: Kind, filters: FlagFilter, page: PageRequest,
               name: str, *, confirm_key: bool = False) -> bytes:
        """`envelope(name, page(...))`, as it would be built now. With `confirm_key`, the
        principal's key is checked to be unrevoked in the same read as the revision."""
        scope = visible_projects(principal, filters)
        if matches_nothing(filters) and not confirm_key:
            return self._envelope(name, Page([], None))
        question = (kind, name, scope, filters.key, filters.include_archived, page.cursor, page.limit)
        with self._uow(transaction=False) as uow:
            if confirm_key:
                revision, live = uow.flags.revision_for_key(scope, principal.key_id)
                if not live:
                    raise revoked_key()
            else:
                revision = uow.flags.revision(scope)
        if matches_nothing(filters):
            return self._envelope(name, Page([], None))
        kept = self._answers.get(question, revision)
        if kept is not None:
            return kept
        # Clients that ask together after a change wait for one answer instead of each building
        # their own; the page is read after the revision, so it is at least as new.
        with self._answering:
            kept = self._answers.get(question, revision)
            if kept is None:
                kept = self._envelope(name, self.page(principal, kind, filters, page))
                self._answers.put(question, revision, kept)
        return kept

    def page(self, principal: Principal, kind: Kind, filters: FlagFilter,
             page: PageRequest) -> Page[bytes]:
        """The same page as `FlagService.page`, each flag rendered."""
        scope = visible_projects(principal, filters)
        if matches_nothing(filters):
            return Page([], None)
        with self._uow(transaction=False) as uow:
            listed = uow.flags.page_versions(
                kind=kind,
                project_ids=scope,
                key=filters.key,
                include_archived=filters.include_archived,
                before_id=page.cursor,
                limit=page.limit + 1,
            )
        shown = listed[: page.limit]
        held, stale = self._held(shown)
        if stale:
            held.update(self._fill(stale))
        more = len(listed) > page.limit
        items = [held[flag_id] for flag_id, _ in shown if flag_id in held]
        return Page(items, shown[-1][0] if more and shown else None)

    def _held(self, listed: list[tuple[int, int]]) -> tuple[dict[int, bytes], list[tuple[int, int]]]:
        """The renderings held at the listed versions, and the (id, version) pairs that are not."""
        held: dict[int, bytes] = {}
        stale = []
        for flag_id, version in listed:
            entry = self._rendered.get(flag_id)
            if entry is not None and entry[0] == version:
                held[flag_id] = entry[1]
            else:
                stale.append((flag_id, version))
        return held, stale

    def _fill(self, stale: list[tuple[int, int]]) -> dict[int, bytes]:
        # One thread renders at a time: clients that ask for the same cold page together (the
        # first lists after a start) wait for one rendering instead of each making their own,
        # and wait without holding a database connection.
        with self._filling:
            held, stale = self._held(stale)
            if stale:
                # A flag changed since its version was read shows the newer one, as if listed
                # a moment later.
                with self._uow(transaction=False) as uow:
                    loaded = uow.flags.get_many([flag_id for flag_id, _ in stale])
                for flag in loaded:
                    held[flag.id] = self._keep(flag)
        return held

    def _keep(self, flag: Flag) -> bytes:
        rendered = self._render(flag)
        with self._lock:
            self._rendered.pop(flag.id, None)  # re-inserted last: the oldest go first
            while len(self._rendered) >= self._max:
                del self._rendered[next(iter(self._rendered))]
            self._rendered[flag.id] = (flag.version, rendered)
        return rendered


class _Answers:
    """Answer bytes by question, each with the revision it was built at; the least recently
    built go first once they hold more than `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._size = 0
        self._kept: dict[Hashable, tuple[Revision, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, question: Hashable, revision: Revision) -> bytes | None:
        entry = self._kept.get(question)
        return entry[1] if entry is not None and entry[0] == revision else None

    def put(self, question: Hashable, revision: Revision, answer: bytes) -> None:
        with self._lock:
            replaced = self._kept.pop(question, None)
            if replaced is not None:
                self._size -= len(replaced[1])
            while self._kept and self._size + len(answer) > self._max:
                oldest = next(iter(self._kept))
                self._size -= len(self._kept.pop(oldest)[1])
            if len(answer) <= self._max:
                self._kept[question] = (revision, answer)
                self._size += len(answer)
