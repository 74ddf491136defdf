"""Which events say that a user saw a variant of a flag.

Three event shapes do, as Amplitude's SDKs send them:
- `[Experiment] Exposure` (server SDKs with exposure tracking): `[Experiment] Flag Key` and
  `[Experiment] Variant` in the event properties;
- `$exposure` (the browser SDK, through the analytics SDK): `flag_key` and `variant`;
- `[Experiment] Assignment` (server-side assignment, remote evaluation): one
  `<flag key>.variant` (or `[Experiment] <flag key>.variant`) property per flag.

An experiment whose `exposureEvent` is set counts a different event instead: the SDK events
above then only tell which variant the user was given, and the chosen event marks the moment
of exposure (Amplitude's custom exposure event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagyard.measure.model.event_filters import matches, user_property
from flagyard.measure.model.events import Event

EXPOSURE = "[Experiment] Exposure"
BROWSER_EXPOSURE = "$exposure"
ASSIGNMENT = "[Experiment] Assignment"
SDK_EXPOSURE_EVENTS = frozenset({EXPOSURE, BROWSER_EXPOSURE, ASSIGNMENT})
VARIANT_SUFFIX = ".variant"
EXPERIMENT_PREFIX = "[Experiment] "


@dataclass(frozen=True)
class ExperimentTrigger:
    """What counts as exposure for one experiment."""

    flag_id: int
    flag_key: str
    exposure_event: Mapping[str, Any] | None  # None: the SDKs' exposure events

    def custom_exposure(self, event: Event) -> bool:
        """True when the event is this experiment's custom exposure event."""
        if self.exposure_event is None or event.event_type != self.exposure_event.get("event_type"):
            return False
        return matches(self.exposure_event.get("filters") or [], event.event_properties,
                       event.user_properties)


@dataclass(frozen=True)
class Sighting:
    """One event's word on one user and flag: the variant, and whether it is an exposure."""

    flag_key: str
    variant: str
    exposure: bool


def sdk_variants(event: Event) -> dict[str, str]:
    """flag key → variant that an SDK exposure or assignment event reports."""
    props = event.event_properties
    if event.event_type == EXPOSURE:
        return _one(props.get("[Experiment] Flag Key"), props.get("[Experiment] Variant"))
    if event.event_type == BROWSER_EXPOSURE:
        return _one(props.get("flag_key"), props.get("variant"))
    if event.event_type == ASSIGNMENT:
        found: dict[str, str] = {}
        for name, value in props.items():
            if name.endswith(VARIANT_SUFFIX) and isinstance(value, str) and value:
                flag_key = name[: -len(VARIANT_SUFFIX)].removeprefix(EXPERIMENT_PREFIX)
                found[flag_key] = value
        return found
    return {}


def sightings(event: Event, triggers: Mapping[str, ExperimentTrigger]) -> list[Sighting]:
    """What the event says about the experiments in `triggers` (by flag key)."""
    found = [
        Sighting(key, variant, exposure=triggers[key].exposure_event is None)
        for key, variant in sdk_variants(event).items() if key in triggers
    ]
    for trigger in triggers.values():
        if trigger.exposure_event is not None and trigger.custom_exposure(event):
            # The variant comes from the user's `[Experiment] <flag>` property when the event
            # carries it; otherwise from what earlier SDK events said ("" = not known here).
            variant = user_property(event.user_properties, EXPERIMENT_PREFIX + trigger.flag_key)
            found.append(Sighting(trigger.flag_key, variant if isinstance(variant, str) else "", True))
    return found


def _one(flag_key: Any, variant: Any) -> dict[str, str]:
    if isinstance(flag_key, str) and flag_key and isinstance(variant, str) and variant:
        return {flag_key: variant}
    return {}
