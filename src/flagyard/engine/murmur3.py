"""MurmurHash3 x86_32, the hash Amplitude uses for bucketing.

`hash32` uses the `mmh3` C extension when it is installed and otherwise the pure
Python `hash32_reference`; tests pin both against the same published vectors.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

_native: Callable[[str | bytes, int, bool], int] | None
try:
    from mmh3 import hash as _native
except ImportError:  # optional fast path; the pure Python version gives the same results
    _native = None

_MASK = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593

_blocks = struct.Struct("<I").iter_unpack


def _scramble(k: int) -> int:
    k = (k * _C1) & _MASK
    k = ((k << 15) | (k >> 17)) & _MASK
    return (k * _C2) & _MASK


def hash32_reference(data: str | bytes, seed: int = 0) -> int:
    """Unsigned 32-bit MurmurHash3 x86_32 of `data` (str is hashed as UTF-8)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    length = len(raw)
    body = length & ~3
    h = seed & _MASK
    for (block,) in _blocks(raw[:body]):
        h ^= _scramble(block)
        h = ((h << 13) | (h >> 19)) & _MASK
        h = (h * 5 + 0xE6546B64) & _MASK
    tail = raw[body:]
    if tail:
        # The tail is read little-endian like the blocks, just shorter.
        h ^= _scramble(int.from_bytes(tail, "little"))
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


def hash32(data: str | bytes, seed: int = 0) -> int:
    """Unsigned 32-bit MurmurHash3 x86_32 of `data` (str is hashed as UTF-8)."""
    if _native is None:
        return hash32_reference(data, seed)
    return _native(data, seed & _MASK, False)


NATIVE: bool = _native is not None


def _reference3(data: str | bytes, seed: int, signed: bool) -> int:
    return hash32_reference(data, seed)


hash32_raw: Callable[[str | bytes, int, bool], int] = _native or _reference3
"""`(data, seed, False) -> unsigned hash`, without `hash32`'s dispatch; for hot loops."""
