"""A pre-serialised `/sdk/v2/flags` answer: bytes joined from per-flag parts, ETag, gzip form.

The ETag hashes the parts' own digests (computed once per compiled flag), so it costs a pass
over 32 bytes per flag rather than over the whole body. The gzip form is made at most once per
body, by the first request that asks for it, and then served as bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Sequence

# Below this size compression saves less than it costs the client.
GZIP_MIN_BYTES = 1024


class FlagsBody:
    __slots__ = ("body", "etag", "_gzip", "_lock")

    def __init__(self, body: bytes, etag: str) -> None:
        self.body = body
        self.etag = etag
        self._gzip: bytes | None = None
        self._lock = threading.Lock()

    @classmethod
    def join(cls, bodies: Sequence[bytes], digests: Sequence[bytes]) -> FlagsBody:
        """The compact JSON array of the per-flag JSON bytes; `digests` are the parts' own
        hashes, in the same order."""
        if not bodies:
            return cls(b"[]", f'"{hashlib.sha256(b"").hexdigest()[:32]}"')
        # One copy of the whole body: the brackets ride on the first and last parts.
        parts = list(bodies)
        parts[0] = b"[" + parts[0]
        parts[-1] = parts[-1] + b"]"
        body = b",".join(parts)
        digest = hashlib.sha256(b"".join(digests)).hexdigest()[:32]
        return cls(body, f'"{digest}"')

    @classmethod
    def join_blocks(cls, blocks: Sequence[tuple[bytes, bytes]]) -> FlagsBody:
        """`join` of parts given in blocks, each already joined: (its bodies joined by commas,
        its digests joined). The same bytes and ETag as `join` of the parts one by one."""
        if not blocks:
            return cls.join((), ())
        parts = [body for body, _ in blocks]
        parts[0] = b"[" + parts[0]
        parts[-1] = parts[-1] + b"]"
        digest = hashlib.sha256()
        for _, digests in blocks:
            digest.update(digests)
        return cls(b",".join(parts), f'"{digest.hexdigest()[:32]}"')

    @property
    def gzip_etag(self) -> str:
        """The gzip representation's own ETag (a different encoding is different bytes)."""
        return self.etag[:-1] + '-gzip"'

    def gzipped(self) -> bytes | None:
        """The body gzip-compressed, or None when it is too small to be worth it."""
        if len(self.body) < GZIP_MIN_BYTES:
            return None
        if self._gzip is None:
            with self._lock:  # concurrent first requests compress once
                if self._gzip is None:
                    self._gzip = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzip


__all__ = ["FlagsBody"]
