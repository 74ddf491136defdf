"""The answer cache: repeated requests get their answer back; the byte budget holds."""

from __future__ import annotations

from flagyard.serve.answer_cache import ENTRY_OVERHEAD, Answer, AnswerCache


def answer(size: int) -> Answer:
    return Answer(b"x" * size, ("f",))


def test_put_then_get__the_same_answer() -> None:
    cache = AnswerCache()
    cache.put("user-a", Answer(b'{"f":{"key":"on"}}', ("f",)))
    assert cache.get("user-a") == Answer(b'{"f":{"key":"on"}}', ("f",))
    assert cache.get("user-b") is None


def test_str_and_bytes_identities__never_the_same_request() -> None:
    cache = AnswerCache()
    cache.put("same", answer(1))
    assert cache.get(b"same") is None


def test_over_budget__least_recently_used_leaves_first() -> None:
    # Given room for exactly three answers
    entry = 1 + 100 + ENTRY_OVERHEAD
    cache = AnswerCache(budget_bytes=3 * entry)
    for identity in ("a", "b", "c"):
        cache.put(identity, answer(100))
    # When "a" is read again, then a fourth answer arrives
    assert cache.get("a") is not None
    cache.put("d", answer(100))
    # Then "b", the least recently used, is the one gone
    assert [cache.get(i) is not None for i in ("a", "b", "c", "d")] == [True, False, True, True]
    assert cache.held == 3 * entry


def test_answer_larger_than_the_budget__not_kept() -> None:
    cache = AnswerCache(budget_bytes=1000)
    cache.put("big", answer(1000))
    assert cache.get("big") is None
    assert cache.held == 0


def test_same_identity_twice__counted_once() -> None:
    cache = AnswerCache()
    cache.put("a", answer(10))
    cache.put("a", answer(10))
    assert len(cache) == 1
    assert cache.held == 1 + 10 + ENTRY_OVERHEAD
