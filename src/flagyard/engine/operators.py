"""Names of the condition operators and how each treats a missing value."""

from __future__ import annotations

IS = "is"
IS_NOT = "is not"
CONTAINS = "contains"
DOES_NOT_CONTAIN = "does not contain"
LESS = "less"
LESS_OR_EQUAL = "less or equal"
GREATER = "greater"
GREATER_OR_EQUAL = "greater or equal"
VERSION_LESS = "version less"
VERSION_LESS_OR_EQUAL = "version less or equal"
VERSION_GREATER = "version greater"
VERSION_GREATER_OR_EQUAL = "version greater or equal"
SET_IS = "set is"
SET_IS_NOT = "set is not"
SET_CONTAINS = "set contains"
SET_DOES_NOT_CONTAIN = "set does not contain"
SET_CONTAINS_ANY = "set contains any"
SET_DOES_NOT_CONTAIN_ANY = "set does not contain any"
REGEX_MATCH = "regex match"
REGEX_DOES_NOT_MATCH = "regex does not match"

NUMERIC_OPS = frozenset({LESS, LESS_OR_EQUAL, GREATER, GREATER_OR_EQUAL})
VERSION_OPS = frozenset(
    {VERSION_LESS, VERSION_LESS_OR_EQUAL, VERSION_GREATER, VERSION_GREATER_OR_EQUAL}
)
SET_OPS = frozenset(
    {
        SET_IS,
        SET_IS_NOT,
        SET_CONTAINS,
        SET_DOES_NOT_CONTAIN,
        SET_CONTAINS_ANY,
        SET_DOES_NOT_CONTAIN_ANY,
    }
)
ALL_OPS = frozenset(
    {IS, IS_NOT, CONTAINS, DOES_NOT_CONTAIN, REGEX_MATCH, REGEX_DOES_NOT_MATCH}
    | NUMERIC_OPS
    | VERSION_OPS
    | SET_OPS
)

NONE_VALUE = "(none)"
"""Filter value meaning "the property is missing"."""

# On a missing value these ops match when "(none)" is among the filter values ...
_NULL_MATCHES_NONE = frozenset(
    {IS, CONTAINS, SET_IS, SET_CONTAINS, SET_CONTAINS_ANY} | NUMERIC_OPS | VERSION_OPS
)
# ... these when it is not; every other op never matches a missing value.
_NULL_MATCHES_NOT_NONE = frozenset(
    {IS_NOT, DOES_NOT_CONTAIN, SET_DOES_NOT_CONTAIN, SET_DOES_NOT_CONTAIN_ANY}
)


def null_outcome(op: str, values: tuple[str, ...]) -> bool:
    """Whether a condition matches when the selected value is missing or falsy."""
    if op in _NULL_MATCHES_NONE:
        return NONE_VALUE in values
    if op in _NULL_MATCHES_NOT_NONE:
        return NONE_VALUE not in values
    return False
