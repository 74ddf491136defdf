"""A file of cohort members: one id per line, or a CSV row per member with the id first.

The file is read twice, about a megabyte of whole lines at a time: once to check every line,
then, only when every line is good, to hand the ids to the write in batches. So a file of a
million ids is never held in memory, and one bad line anywhere changes nothing (ADR 0102).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from flagyard.errors import Invalid
from flagyard.manage.model.cohorts import MAX_BATCH, MAX_MEMBER_ID_LENGTH

# A CSV row may carry other columns after the id; a line longer than this is no member row.
MAX_LINE_BYTES = 64 * 1024
BLOCK_BYTES = 1024 * 1024  # read at a time
PROBLEMS_SHOWN = 5  # bad lines named in the refusal; the rest are counted
# C0 controls and DEL: a tab or a stray carriage return inside an id is a broken file, not an id.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Every byte but those controls (and the newline between lines), for bytes.translate to delete.
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 0x20 or b == 0x7F) or b == 0x0A)


class FileFormat(StrEnum):
    TEXT = "text"  # the whole line is the id
    CSV = "csv"  # the first field of the row is the id


class UploadMode(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...


@dataclass(frozen=True)
class BadLine:
    number: int  # from 1, as an editor counts
    reason: str


@dataclass(frozen=True)
class Checked:
    """A file every line of which is good."""

    ids: int  # lines holding an id (blank lines are skipped); repeats counted


@dataclass(frozen=True)
class Uploaded:
    mode: UploadMode
    ids: int  # ids in the file
    changed: int  # members added (add, replace) or removed (remove)
    size: int  # members afterwards


@dataclass(frozen=True)
class Block:
    """Whole lines of the file: what they hold, and what is wrong with the bad ones."""

    ids: list[str]  # in file order, blank lines left out
    bad: list[BadLine]


@dataclass(frozen=True)
class MemberFile:
    source: Readable  # seekable: read once to check, once to write
    format: FileFormat = FileFormat.TEXT
    header: bool = False  # the first line names the columns: skipped

    def check(self) -> Checked:
        """Every line read; `Invalid` naming the first bad lines (and how many) if any."""
        problems: list[BadLine] = []
        bad = ids = 0
        for block in self._blocks():
            bad += len(block.bad)
            problems.extend(block.bad[:PROBLEMS_SHOWN - len(problems)])
            ids += len(block.ids)
        if bad:
            raise Invalid(refusal(problems, bad), code="invalid_member_file")
        if not ids:
            raise Invalid("file holds no member ids", code="empty_member_file")
        return Checked(ids=ids)

    def batches(self, size: int = MAX_BATCH) -> Iterator[list[str]]:
        """The ids, `size` at a time, in file order."""
        batch: list[str] = []
        for block in self._blocks():
            if block.bad:  # changed since it was checked
                raise Invalid(refusal(block.bad[:PROBLEMS_SHOWN], len(block.bad)), code="invalid_member_file")
            batch.extend(block.ids)
            while len(batch) >= size:
                yield batch[:size]
                batch = batch[size:]
        if batch:
            yield batch

    def _blocks(self) -> Iterator[Block]:
        self.source.seek(0)
        for number, lines in _line_blocks(self.source):
            yield parse_block(number, lines, self.format, skip_first=self.header and number == 1)


def _line_blocks(source: Readable) -> Iterator[tuple[int, bytes | None]]:
    """(number of the first line, whole lines joined by newlines) about a megabyte at a time;
    None for a line longer than MAX_LINE_BYTES, whose bytes are skipped without being kept."""
    number, carry, skipping = 1, b"", False
    while chunk := source.read(BLOCK_BYTES):
        data = carry + chunk
        end = data.rfind(b"\n")
        if skipping:  # the rest of an over-long line
            if end < 0:
                carry = b""
                continue
            first = data.find(b"\n")
            data, end, skipping = data[first + 1:], end - first - 1, False
        if end < 0:
            if len(data) > MAX_LINE_BYTES:
                yield number, None
                number, carry, skipping = number + 1, b"", True
            else:
                carry = data
            continue
        yield number, data[:end]
        number += data.count(b"\n", 0, end) + 1
        carry = data[end + 1:]
    if carry and not skipping:
        yield number, carry


def parse_block(number: int, lines: bytes | None, file_format: FileFormat, *, skip_first: bool) -> Block:
    """The ids of whole lines starting at line `number`. Blocks of plain ids, by far the most
    common, are read with a few calls over the whole block; any other goes line by line."""
    if lines is None:
        return Block([], [BadLine(number, f"is longer than {MAX_LINE_BYTES:,} bytes")])
    fast = _plain_ids(number, lines, file_format, skip_first)
    if fast is not None:
        return Block(fast, [])
    ids: list[str] = []
    bad: list[BadLine] = []
    for offset, raw in enumerate(lines.split(b"\n")):
        if offset == 0 and skip_first:
            continue
        if len(raw) > MAX_LINE_BYTES:
            bad.append(BadLine(number + offset, f"is longer than {MAX_LINE_BYTES:,} bytes"))
            continue
        parsed = parse_line(number + offset, raw.rstrip(b"\r"), file_format)
        if isinstance(parsed, BadLine):
            bad.append(parsed)
        elif parsed:
            ids.append(parsed)
    return Block(ids, bad)


def _plain_ids(number: int, lines: bytes, file_format: FileFormat, skip_first: bool) -> list[str] | None:
    """The block's ids when every line is good and simple (UTF-8, no control character, no
    CSV quoting, short); None sends the block line by line, which names what is wrong. Each
    step is one call over the whole block: a million ids take a fraction of a second."""
    if lines.endswith(b"\r"):  # the last line's CR: its LF ended the block
        lines = lines[:-1]
    controls = lines.translate(None, _NOT_CONTROL)  # UTF-8 puts no byte under 0x80 in a character
    if controls and (controls.strip(b"\r") or controls.count(b"\r") != lines.count(b"\r\n")):
        return None
    try:
        text = lines.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if number == 1:
        text = text.removeprefix("\ufeff")
    if controls:
        text = text.replace("\r\n", "\n")
    if file_format is FileFormat.CSV and '"' in text:
        return None
    rows = text.split("\n")
    if skip_first:
        rows = rows[1:]
    if file_format is FileFormat.CSV:
        rows = [row.split(",", 1)[0] for row in rows]
    if not text.isascii() or " " in text:  # else no line has spaces to strip
        rows = [row.strip() for row in rows]
    # Four bytes at most per character: only longer ids need their bytes counted.
    if rows and max(map(len, rows)) * 4 > MAX_MEMBER_ID_LENGTH \
            and any(len(row.encode()) > MAX_MEMBER_ID_LENGTH for row in rows):
        return None
    return list(filter(None, rows))


def parse_line(number: int, raw: bytes | None, file_format: FileFormat) -> str | BadLine:
    """The id a line holds, "" for a blank line, or what is wrong with it."""
    if raw is None:
        return BadLine(number, f"is longer than {MAX_LINE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadLine(number, "is not valid UTF-8")
    if number == 1:
        text = text.removeprefix("\ufeff")  # the byte order mark spreadsheets write
    if file_format is FileFormat.CSV:
        try:
            text = _first_field(text)
        except csv.Error:
            return BadLine(number, "is not a CSV row (check its quotes)")
    text = text.strip()
    if _CONTROL.search(text):
        return BadLine(number, "contains a control character")
    if len(text.encode()) > MAX_MEMBER_ID_LENGTH:
        return BadLine(number, f"holds an id longer than {MAX_MEMBER_ID_LENGTH} bytes")
    return text


def _first_field(text: str) -> str:
    if '"' not in text:
        return text.split(",", 1)[0]
    return next(csv.reader([text], strict=True), [""])[0] if text.strip() else ""


def refusal(problems: list[BadLine], bad: int) -> str:
    """Starts with "file": the form shows it by its file field."""
    named = "; ".join(f"line {p.number} {p.reason}" for p in problems)
    more = bad - len(problems)
    tail = f"; and {more:,} more bad line{'s' if more != 1 else ''}" if more > 0 else ""
    lines = "line" if bad == 1 else "lines"
    return f"file has {bad:,} bad {lines}, so nothing was changed: {named}{tail}"
