"""Files of cohort members: what each line holds, which lines are refused and why, and the
same answer whichever way a block is read (all at once, or line by line)."""

from __future__ import annotations

import io
import random
import re

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model import member_file
from flagyard.manage.model.member_file import FileFormat, MemberFile, parse_block, parse_line


def ids_of(content: bytes, file_format: FileFormat = FileFormat.TEXT, header: bool = False) -> list[str]:
    return [i for batch in MemberFile(io.BytesIO(content), file_format, header).batches() for i in batch]


def refusal_of(content: bytes, file_format: FileFormat = FileFormat.TEXT) -> str:
    with pytest.raises(Invalid) as refused:
        MemberFile(io.BytesIO(content), file_format).check()
    return refused.value.message


def test_text__one_id_a_line__blank_lines_spaces_crlf_and_bom_dropped() -> None:
    content = "\ufeffann\r\n  bob  \n\n\t\ncarl\r\némile".encode()

    assert ids_of(content) == ["ann", "bob", "carl", "émile"]
    assert MemberFile(io.BytesIO(content)).check().ids == 4


def test_csv__the_first_field__quotes_understood__header_skipped() -> None:
    content = b'user_id,plan\nann,pro\n"bob, jr",free\n"say ""hi""",x\ncarl\n'

    assert ids_of(content, FileFormat.CSV, header=True) == ["ann", "bob, jr", 'say "hi"', "carl"]
    assert ids_of(content, FileFormat.CSV)[0] == "user_id"


def test_text__commas_are_part_of_the_id() -> None:
    assert ids_of(b"a,b\n") == ["a,b"]


def test_batches__in_file_order__of_the_size_asked() -> None:
    content = "".join(f"id-{i}\n" for i in range(25)).encode()

    batches = list(MemberFile(io.BytesIO(content)).batches(size=10))

    assert [len(b) for b in batches] == [10, 10, 5]
    assert [i for b in batches for i in b] == [f"id-{i}" for i in range(25)]


@pytest.mark.parametrize(("line", "reason"), [
    (b"x" * 1001, "holds an id longer than 1000 bytes"),
    ("é".encode() * 501, "holds an id longer than 1000 bytes"),  # 501 characters, 1002 bytes
    (b"bad\xff", "is not valid UTF-8"),
    (b"tab\tinside", "contains a control character"),
    (b"nul\x00", "contains a control character"),
    (b"carriage\rreturn", "contains a control character"),
])
def test_bad_line__named_with_its_number_and_reason(line: bytes, reason: str) -> None:
    content = b"ok-1\nok-2\n" + line + b"\nok-4\n"

    assert refusal_of(content) == f"file has 1 bad line, so nothing was changed: line 3 {reason}"


def test_id_of_exactly_1000_bytes__accepted() -> None:
    assert ids_of("é".encode() * 500 + b"\n") == ["é" * 500]


def test_unbalanced_csv_quote__refused() -> None:
    assert refusal_of(b'ok\n"open,\n', FileFormat.CSV).endswith('line 2 is not a CSV row (check its quotes)')


def test_many_bad_lines__the_first_five_named__the_rest_counted() -> None:
    content = b"".join(b"y" * 1500 + b"\n" if i % 3 == 0 else b"ok\n" for i in range(30))

    message = refusal_of(content)

    assert message.startswith("file has 10 bad lines, so nothing was changed: line 1 holds")
    assert [int(n) for n in re.findall(r"line (\d+) holds", message)] == [1, 4, 7, 10, 13]
    assert message.endswith("; and 5 more bad lines")


def test_empty_or_blank_file__refused() -> None:
    assert refusal_of(b"") == "file holds no member ids"
    assert refusal_of(b"\n  \r\n") == "file holds no member ids"


def test_line_past_the_line_limit__refused_without_being_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given blocks smaller than the long line, so it spans several reads
    monkeypatch.setattr(member_file, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(member_file, "MAX_LINE_BYTES", 3000)
    long = b"z" * 10_000
    # When it sits in the middle, then at the end without a newline
    middle = refusal_of(b"a\nb\n" + long + b"\nc\n")
    end = refusal_of(b"a\n" + long)
    # Then
    assert middle == "file has 1 bad line, so nothing was changed: line 3 is longer than 3,000 bytes"
    assert end == "file has 1 bad line, so nothing was changed: line 2 is longer than 3,000 bytes"
    # A CSV row under the line limit may be long: only its first field is the id
    assert ids_of(b"a\nb," + b"z" * 2000 + b"\nc\n", FileFormat.CSV) == ["a", "b", "c"]


def test_line_numbers__across_many_small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(member_file, "BLOCK_BYTES", 64)
    rows = [f"user-{i}".encode() for i in range(300)]
    rows[211] = b"\xfe"

    assert refusal_of(b"\n".join(rows) + b"\n").endswith("line 212 is not valid UTF-8")
    rows[211] = b"user-211"
    assert ids_of(b"\n".join(rows)) == [f"user-{i}" for i in range(300)]


_PIECES = ["a", "b", " ", "é", "\u00a0", ",", '"', "\t", "\r", "\x7f", "\ufeff", "x" * 300, "日本"]


@pytest.mark.parametrize("file_format", list(FileFormat))
def test_block_read_at_once__same_as_line_by_line(file_format: FileFormat) -> None:
    # Random lines, some bad, some needing the careful path: the quick read of a whole block
    # must answer exactly what reading it a line at a time answers.
    chooser = random.Random(20_261_206)
    for _ in range(300):
        lines = ["".join(chooser.choice(_PIECES) for _ in range(chooser.randint(0, 6)))
                 for _ in range(chooser.randint(1, 8))]
        raw = "\n".join(lines).encode()
        block = parse_block(1, raw, file_format, skip_first=False)
        one_by_one = [parse_line(n, line.rstrip(b"\r"), file_format)
                      for n, line in enumerate(raw.split(b"\n"), start=1)]
        assert block.ids == [p for p in one_by_one if isinstance(p, str) and p], lines
        assert block.bad == [p for p in one_by_one if not isinstance(p, str)], lines
