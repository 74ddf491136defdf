"""How the results page writes the results service's numbers: percentages for conversion
metrics, plain numbers for means and counts. Each shown number keeps its exact value beside it
(`<data value=…>`), so what a person reads can be checked against the API's answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flagyard.measure.model.metrics import MetricKind


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def _signed(text: Callable[[float], str]) -> Callable[[float], str]:
    return lambda value: ("+" if value > 0 else "") + text(value)


@dataclass(frozen=True)
class MetricFormat:
    value: Callable[[float], str]
    difference: Callable[[float], str]


def metric_formatter(kind: MetricKind) -> MetricFormat:
    if kind is MetricKind.CONVERSION:
        # A difference of two shares is in percentage points.
        return MetricFormat(_percent, _signed(lambda d: f"{d * 100:.2f} pp"))
    return MetricFormat(_number, _signed(_number))


def p_value(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@dataclass(frozen=True)
class Cell:
    """One shown number: its exact value (None: nothing to show) and its text."""

    raw: float | None
    text: str


def _cell(value: float | None, text: Callable[[float], str]) -> Cell:
    return Cell(None, "—") if value is None else Cell(value, text(value))


def result_rows(results: Mapping[str, Any], kind: MetricKind) -> list[dict[str, Any]]:
    fmt = metric_formatter(kind)
    rows = []
    for variant in results["variants"]:
        ci = variant.get("ci95")
        verdict = ""
        if ci is not None:
            verdict = ("above control" if ci[0] > 0 else "below control" if ci[1] < 0
                       else "not distinguishable from control")
        rows.append({
            "key": variant["key"],
            "control": variant["key"] == results["control"],
            "exposures": variant["exposures"],
            "value": _cell(variant["value"], fmt.value),
            "difference": _cell(variant["difference"], fmt.difference),
            "relative": _cell(variant["relativeDifference"], _signed(_percent)),
            "ci_low": _cell(ci[0] if ci else None, fmt.difference),
            "ci_high": _cell(ci[1] if ci else None, fmt.difference),
            "p_value": _cell(variant["pValue"], p_value),
            "chance": _cell(variant["chanceToBeatControl"], lambda c: f"{c * 100:.1f} %"),
            "verdict": verdict,
            "no_comparison": "" if ci is not None else "needs 2 exposed users here and in control",
        })
    return rows


def nobody_did(results: Mapping[str, Any]) -> bool:
    """Users were exposed, and none of them did the metric's event afterwards."""
    variants = results["variants"]
    return any(v["exposures"] for v in variants) and not any(v["conversions"] for v in variants)


def srm_summary(results: Mapping[str, Any]) -> dict[str, Any]:
    """The observed split beside the expected one, for the sample ratio warning."""
    srm = results["srm"]
    counts = {v["key"]: int(v["exposures"]) for v in results["variants"]}
    total = sum(counts.values())
    keys = list(counts) + [k for k in srm["expectedShares"] if k not in counts]
    split = [{"key": key, "users": counts.get(key, 0),
              "observed": counts.get(key, 0) / total if total else 0.0,
              "expected": srm["expectedShares"].get(key, 0.0)} for key in keys]
    p = srm["pValue"]
    return {"mismatch": srm["mismatch"], "warning": srm["warning"], "split": split,
            "p_value": p, "p_text": "—" if p is None else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")}
