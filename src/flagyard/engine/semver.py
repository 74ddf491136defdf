"""Semantic versions as used by the `version *` operators.

Accepted shape: `major.minor[.patch[-prerelease]]`. A version is reduced to a tuple
that sorts the way Amplitude compares versions: numerically by major, minor and
patch, then a pre-release below its release, then pre-releases as plain strings.
"""

from __future__ import annotations

import re

VersionKey = tuple[int, int, int, int, str]

# Pre-release: dot-separated runs of word characters or hyphens, a trailing dot allowed,
# no leading or doubled dots (the same strings Amplitude's pattern accepts, written so
# that it cannot backtrack exponentially).
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+)(-(?:[-\w]+(?:\.[-\w]+)*\.?)?)?)?$")


def parse_version(text: str) -> VersionKey | None:
    """Sort key for `text`, or None when it is not a version."""
    if not text:
        return None
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    try:
        numbers = (int(major), int(minor), int(patch) if patch else 0)
    except ValueError:  # digit strings beyond int's conversion limit
        return None
    if pre:
        return (*numbers, 0, pre)
    return (*numbers, 1, "")
