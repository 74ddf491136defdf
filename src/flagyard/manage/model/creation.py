"""Building a new flag or experiment from a create request, with the documented defaults."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flagyard.errors import Invalid
from flagyard.manage.model import rules
from flagyard.manage.model.flags import (
    EXPERIMENT_ONLY,
    FLAG_FIELDS,
    Flag,
    Kind,
    Variant,
    camel,
    check_segments,
)

# Settings whose absent or empty value means a default here rather than a refusal.
_DEFAULTED = frozenset({"name", "description", "bucketing_salt", "sticky_bucketing", "tags",
                        "delivery_method"})

DEFAULT_VARIANTS = {
    Kind.FLAG: ("on",),
    Kind.EXPERIMENT: ("control", "treatment"),
}


def new_flag(
    kind: Kind,
    project_id: int,
    fields: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> Flag:
    """`fields` holds what the client sent (snake_case); absent fields take the defaults."""
    key: str = fields["key"]
    rules.check_flag_key(key)
    if kind is Kind.FLAG:
        for name in EXPERIMENT_ONLY:
            if fields.get(name) is not None:
                raise Invalid(f"{camel(name)} is not allowed for flags", code="not_allowed")
    delivery = fields.get("delivery_method") or "feature"
    rules.check_one_of(delivery, rules.DELIVERY_METHODS, "deliveryMethod")
    if delivery == "web":
        raise Invalid("Web Experiments are not supported by Management API yet",
                      code="web_not_supported")

    flag = Flag(
        project_id=project_id,
        kind=kind,
        key=key,
        name=fields.get("name") or key,
        description=fields.get("description") or "",
        bucketing_salt=fields.get("bucketing_salt") or rules.new_salt(),
        created_at=now,
        created_by=actor,
        last_modified_at=now,
        last_modified_by=actor,
        experiment_type=(fields.get("experiment_type") or "a-b-test") if kind is Kind.EXPERIMENT else None,
        sticky_bucketing=bool(fields.get("sticky_bucketing") or False),
        tags=list(fields.get("tags") or []),
        parent_dependencies=fields.get("parent_dependencies"),
    )
    # Every other setting sent is checked and kept as an edit would keep it.
    for setting in FLAG_FIELDS:
        value = fields.get(setting.attribute)
        if value is not None and setting.attribute not in _DEFAULTED:
            flag.check_setting(setting.attribute, value)
            setattr(flag, setting.attribute, value)

    given = fields.get("variants")
    if given:
        for index, spec in enumerate(given):
            if spec["key"] in flag.variant_keys:
                # A repeated key inside one request body is bad input, not a clash with stored data.
                raise Invalid(f"variants[{index}].key '{spec['key']}' is used by an earlier variant",
                              code="duplicate_variant")
            flag.add_variant(Variant.from_fields(spec), field_name=f"variants[{index}].key")
    else:
        for variant_key in DEFAULT_VARIANTS[kind]:
            flag.variants.append(Variant(key=variant_key))
    if fields.get("rollout_weights") is not None:
        flag.set_rollout_weights(fields["rollout_weights"])
    segments = fields.get("target_segments") or []
    check_segments(segments, flag.variant_keys)
    flag.target_segments = segments
    flag.deployments = list(dict.fromkeys(fields.get("deployments") or []))
    return flag
