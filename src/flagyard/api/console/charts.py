"""Charts as inline SVG, drawn on the server: no script, no network."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d")
OFF_COLOUR = "#cbd5e1"


def rollout_split(percentage: int, weights: dict[str, int], title: str = "Rollout split") -> Markup:
    """One bar: the rolled-out share split by weight, the rest served 'off'."""
    total = sum(w for w in weights.values() if w > 0)
    parts: list[tuple[str, float, str]] = []
    if total:
        for index, (key, weight) in enumerate(weights.items()):
            if weight > 0:
                parts.append((key, percentage * weight / total, PALETTE[index % len(PALETTE)]))
    parts.append(("off", 100 - (percentage if total else 0), OFF_COLOUR))
    width, x = 600.0, 0.0
    bars, legend = [], []
    for index, (key, share, colour) in enumerate(parts):
        w = width * share / 100
        if w > 0:
            bars.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="24" fill="{colour}">'
                        f'<title>{escape(key)}: {share:.1f}%</title></rect>')
        x += w
        legend.append(f'<g transform="translate({(index % 4) * 150},{34 + (index // 4) * 18})">'
                      f'<rect width="12" height="12" fill="{colour}"/>'
                      f'<text x="16" y="11">{escape(key)} {share:.1f}%</text></g>')
    height = 34 + 18 * ((len(parts) + 3) // 4)
    label = ", ".join(f"{key} {share:.1f}%" for key, share, _ in parts)
    return Markup(
        f'<svg class="chart" viewBox="0 0 600 {height}" role="img" aria-label="{escape(title)}: {escape(label)}">'
        + "".join(bars) + "".join(legend) + "</svg>"
    )


def activity(days: Sequence[tuple[str, int]], title: str = "Changes per day") -> Markup:
    """Bars of changes per day, oldest left."""
    if not days:
        return Markup("")
    top = max(count for _, count in days) or 1
    step = 600 / len(days)
    bars = []
    for index, (day, count) in enumerate(days):
        h = 80 * count / top
        bars.append(f'<rect x="{index * step + 1:.1f}" y="{90 - h:.1f}" width="{max(step - 2, 1):.1f}" '
                    f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{escape(day)}: {count}</title></rect>')
    first, last = escape(days[0][0]), escape(days[-1][0])
    total = sum(count for _, count in days)
    return Markup(
        f'<svg class="chart" viewBox="0 0 600 110" role="img" '
        f'aria-label="{escape(title)}: {total} changes from {first} to {last}">'
        + "".join(bars)
        + f'<line x1="0" y1="90.5" x2="600" y2="90.5" stroke="#94a3b8"/>'
        f'<text x="0" y="106">{first}</text><text x="600" y="106" text-anchor="end">{last}</text>'
        f'<text x="0" y="12">most in a day: {top}</text></svg>'
    )
