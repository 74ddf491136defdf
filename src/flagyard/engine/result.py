"""The value an evaluation returns for one flag."""

from __future__ import annotations

from typing import Any, NamedTuple


class EvaluationResult(NamedTuple):
    """Variant assigned to a user: the variant's key, value and payload, and metadata
    merged from flag, segment and variant (later wins)."""

    key: str | None
    value: Any
    payload: Any
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Amplitude's wire shape `{key, value?, payload?, metadata?}`; None fields omitted."""
        out: dict[str, Any] = {}
        if self.key is not None:
            out["key"] = self.key
        if self.value is not None:
            out["value"] = self.value
        if self.payload is not None:
            out["payload"] = self.payload
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


# Attributes a selector may read from an earlier flag's result (`["result", key, "key"]`).
RESULT_FIELDS = frozenset(EvaluationResult._fields)
