"""What a remote evaluation asks to have tracked: Amplitude's assignment and exposure events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tracking:
    # Amplitude's servers track an assignment for every remote evaluation unless told not to,
    # and an exposure only when asked.
    assignment: bool = True
    exposure: bool = False

    @property
    def any(self) -> bool:
        return self.assignment or self.exposure


# Evaluations nobody's application served (the console's debugger, OFREP) track nothing.
UNTRACKED = Tracking(assignment=False, exposure=False)
