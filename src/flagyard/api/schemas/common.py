"""Field types shared by every request body: strict, and refusing what the store can't keep."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel

from flagyard.manage.model.limits import (  # noqa: F401 - re-exported for the request schemas
    MAX_INT,
    MAX_PAYLOAD_CHARS,
    MAX_PAYLOAD_DEPTH,
    MAX_SAFE_INTEGER,
    json_value,
    unicode_text,
)

# The checks themselves live in the manage model: project files apply the same limits.
_json_value = json_value


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
