"""Rules on names and numbers shared by flags, experiments and variants."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from datetime import datetime

from flagyard.errors import Invalid

FLAG_KEY = re.compile(r"[A-Za-z0-9_.-]+")
VARIANT_KEY = re.compile(r"[A-Za-z0-9_-]+")
MAX_KEY_LENGTH = 200
RESERVED_VARIANT = "off"  # the default variant every evaluated flag falls back to
MAX_BULK_REMOVE = 100

EVALUATION_MODES = ("remote", "local")
EXPERIMENT_TYPES = ("a-b-test", "multi-arm-bandit", "no-harm", "hypothesis-testing")
DECISIONS = ("rollout", "rollback", "continue-running")
DELIVERY_METHODS = ("feature", "web")

SALT_ALPHABET = string.ascii_letters + string.digits


def new_salt() -> str:
    return "".join(secrets.choice(SALT_ALPHABET) for _ in range(8))


def is_flag_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and FLAG_KEY.fullmatch(key) is not None


def check_flag_key(key: str, field: str = "key") -> None:
    if not key:
        raise Invalid(f"{field} must not be empty", code="invalid_key")
    if len(key) > MAX_KEY_LENGTH:
        raise Invalid(f"{field} must be at most {MAX_KEY_LENGTH} characters", code="invalid_key")
    if not FLAG_KEY.fullmatch(key):
        raise Invalid(
            f"{field} may contain only letters, digits, '_', '-' and '.'", code="invalid_key"
        )


def check_variant_key(key: str, field: str) -> None:
    if not key:
        raise Invalid(f"{field} must not be empty", code="invalid_variant_key")
    if len(key) > MAX_KEY_LENGTH:
        raise Invalid(
            f"{field} must be at most {MAX_KEY_LENGTH} characters", code="invalid_variant_key"
        )
    if not VARIANT_KEY.fullmatch(key):
        raise Invalid(
            f"{field} may contain only letters, digits, '_' and '-'", code="invalid_variant_key"
        )
    if key == RESERVED_VARIANT:
        raise Invalid(
            f"{field} contains an invalid value: '{RESERVED_VARIANT}' is reserved for the default variant",
            code="reserved_variant_key",
        )


def check_percentage(value: int, field: str) -> None:
    if not 0 <= value <= 100:
        raise Invalid(f"{field} must be between 0 and 100", code="invalid_percentage")


def check_weights(weights: Mapping[str, int], variant_keys: Iterable[str], field: str) -> None:
    known = set(variant_keys)
    for key, weight in weights.items():
        if key not in known:
            raise Invalid(f"{field}.{key} names no variant of this flag", code="unknown_variant")
        if weight < 0:
            raise Invalid(f"{field}.{key} must not be negative", code="invalid_weight")


def check_one_of(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise Invalid(f"{field} must be one of {', '.join(allowed)}", code="invalid_value")


def check_bulk_size(items: list[str], field: str) -> None:
    if len(items) > MAX_BULK_REMOVE:
        raise Invalid(
            f"{field} may name at most {MAX_BULK_REMOVE} items per request", code="too_many_items"
        )


def iso_date(value: str | None) -> str | None:
    """A start or end date: any date (or date and time) in ISO 8601, kept as it was sent."""
    if value is not None:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date in ISO 8601 format") from None
    return value
