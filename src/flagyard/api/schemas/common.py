"""Field types shared by every request body: strict, and refusing what the store can't keep."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel

MAX_INT = 2**31 - 1  # fits every database's INTEGER
MAX_PAYLOAD_DEPTH = 64
MAX_PAYLOAD_CHARS = 65_536  # a payload travels to every SDK with each flag
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer JavaScript SDKs read back exactly


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def unicode_text(value: str) -> str:
    """Text every store and every client can hold: no NUL, no unpaired UTF-16 surrogate."""
    _no_nul(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no unpaired surrogates)") from None
    return value


def _integral(value: Any) -> Any:
    # JSON has one number type: accept 3 and 3.0, refuse 3.5, "3" and true.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        value = int(value)
    return value


def _id(value: Any) -> int:
    # Ids are decimal strings on the wire; numbers are accepted too, as clients send both.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_INT:
        raise ValueError("must be an id (a positive decimal string)")
    return value


def _json_value(value: Any) -> Any:
    _json_node(value, 0)
    if len(json.dumps(value, ensure_ascii=False)) > MAX_PAYLOAD_CHARS:
        raise ValueError(f"is longer than {MAX_PAYLOAD_CHARS} characters as JSON")
    return value


def _json_node(value: Any, depth: int) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_PAYLOAD_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must not contain NaN or Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"must not contain integers beyond ±{MAX_SAFE_INTEGER}")
    if isinstance(value, str):
        unicode_text(value)
    elif isinstance(value, list):
        for item in value:
            _json_node(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            unicode_text(key)
            _json_node(item, depth + 1)


Text = Annotated[str, Strict(), AfterValidator(unicode_text)]
ShortText = Annotated[str, Strict(), Field(max_length=1000), AfterValidator(unicode_text)]
LongText = Annotated[str, Strict(), Field(max_length=20000), AfterValidator(unicode_text)]
Key = Annotated[str, Strict(), Field(max_length=200), AfterValidator(unicode_text)]
Id = Annotated[int, BeforeValidator(_id)]
Percentage = Annotated[int, BeforeValidator(_integral), Field(ge=0, le=100)]
Weight = Annotated[int, BeforeValidator(_integral), Field(ge=0, le=1_000_000)]
Bool = Annotated[bool, Strict()]
JsonValue = Annotated[Any, AfterValidator(_json_value)]


class Body(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused by name."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", populate_by_name=False)

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent, by their Python names."""
        return {name: getattr(self, name) for name in self.model_fields_set}
