"""Who lands where in a holdout or mutual exclusion group: the shares of users its bar draws,
each with the members users in it may see, and the same in words for the bar's text equivalent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Dark enough for white text at any size (contrast 4.5:1 or more).
SLOT_COLOURS = ("#1d4ed8", "#15803d", "#b45309", "#7e22ce", "#be123c", "#0e7490", "#4d7c0f", "#a21caf")
HELD_OUT_COLOUR = "#334155"


@dataclass(frozen=True)
class Share:
    label: str  # "Held out", "Slot 2"
    percentage: int
    colour: str
    sees: str  # what users in this share see, in words


def _names(ids: list[str], members: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Members by key when they are known (archived members leave a group), else by id."""
    return [str(members[i]["key"]) if i in members else f"id {i}" for i in ids]


def _listing(words: list[str]) -> str:
    return ", ".join(words)


def holdout_shares(holdout: Mapping[str, Any], members: Mapping[str, Mapping[str, Any]]) -> list[Share]:
    held_out = int(holdout["holdoutPercentage"])
    experiments = _names(list(holdout["experiments"]), members)
    rest = (f"may see the experiments, each deciding as usual: {_listing(experiments)}" if experiments
            else "may see the experiments (none is in this holdout yet)")
    return [
        Share("Held out", held_out, HELD_OUT_COLOUR, "see none of the experiments: each serves them its default variant"),
        Share("Not held out", 100 - held_out, SLOT_COLOURS[0], rest),
    ]


def mutex_shares(mutex: Mapping[str, Any], members: Mapping[str, Mapping[str, Any]]) -> list[Share]:
    shares = []
    for index, slot in enumerate(mutex["slots"]):
        experiments = _names(list(slot["experiments"]), members)
        holdouts = [f"the experiments of holdout {name}" for name in _names(list(slot["holdouts"]), members)]
        seen = experiments + holdouts
        shares.append(Share(f"Slot {slot['index']}", int(slot["percentage"]),
                            SLOT_COLOURS[index % len(SLOT_COLOURS)],
                            f"may see {_listing(seen)}, and no other experiment of the group"
                            if seen else "see no experiment of the group (the slot is empty)"))
    return shares


def in_words(shares: list[Share]) -> str:
    """The bar as one sentence, for its text equivalent."""
    return "; ".join(f"{s.label}: {s.percentage}% of users {s.sees}" for s in shares)
