"""How the results page writes the results service's numbers and verdicts: percentages for
conversion metrics, plain numbers for means and counts, the interval at its real level, the
verdict in the metric's good direction, guardrails' harm, and the analysis settings and their
changes in words. Each shown number keeps its exact value beside it (`<data value=…>`), so what
a person reads can be checked against the API's answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flagyard.measure.model.metrics import MetricKind
from flagyard.measure.multiple_testing import interval_alpha


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


def level_text(level: float) -> str:
    """A confidence level in percent: 0.975 → "97.5 %", 1 − 0.05/3 → "98.33 %"."""
    return f"{level * 100:.4g} %"


def interval_label(results: Mapping[str, Any]) -> str:
    """The interval column's name, at the level the answer drew it: 1 − α/m under Bonferroni;
    Holm's and Benjamini–Hochberg's intervals stay at 1 − α, so they are named unadjusted."""
    settings = results["analysis"]
    level = next((v["ciLevel"] for v in results["variants"] if v.get("ciLevel") is not None), None)
    if level is None:  # no figures yet: the level they will have, by the service's own rule
        family = settings["familySize"] if results["metric"]["role"] != "guardrail" else 1
        level = 1 - interval_alpha(1 - settings["confidenceLevel"], max(1, family), settings["multipleTesting"])
    unadjusted = (settings["multipleTesting"] in ("holm", "benjamini-hochberg") and settings["familySize"] > 1
                  and results["metric"]["role"] != "guardrail")
    return f"{level_text(level)} interval" + (" (not adjusted)" if unadjusted else "")


def verdict(variant: Mapping[str, Any], direction: str) -> str:
    """What a treatment's row says against control, in the metric's good direction."""
    if variant.get("significant") is None:
        return ""
    if not variant["significant"]:
        return "not distinguishable yet"
    good, bad = ("higher", "lower") if direction == "increase" else ("lower", "higher")
    return f"better than control ({good})" if variant["better"] else f"worse than control ({bad})"


def harm_words(harm: bool | None, margin: float | None, thresholds_met: bool | None) -> str:
    if harm is True:
        return "harm detected"
    if harm is False:
        return f"harm ruled out within the {(margin or 0) * 100:g} % margin"
    return "not known yet" + ("" if thresholds_met else ": the minimum samples are not met")


def result_rows(results: Mapping[str, Any], kind: MetricKind) -> list[dict[str, Any]]:
    fmt = metric_formatter(kind)
    metric = results["metric"]
    rows = []
    for variant in results["variants"]:
        ci = variant.get("ci")
        threshold = variant.get("threshold")
        said = verdict(variant, metric["direction"])
        if metric["role"] == "guardrail" and variant.get("thresholdsMet"):
            said = harm_words(variant["harm"], metric["nonInferiorityMargin"], True)
        rows.append({
            "key": variant["key"],
            "control": variant["key"] == results["control"],
            "exposures": variant["exposures"],
            "value": _cell(variant["value"], fmt.value),
            "difference": _cell(variant["difference"], fmt.difference),
            "relative": _cell(variant["relativeDifference"], _signed(_percent)),
            "ci_low": _cell(ci[0] if ci else None, fmt.difference),
            "ci_high": _cell(ci[1] if ci else None, fmt.difference),
            "adjusted_p": _cell(variant["adjustedPValue"], p_value),
            "p_value": _cell(variant["pValue"], p_value),
            "chance": _cell(variant["chanceToBeatControl"], lambda c: f"{c * 100:.1f} %"),
            "verdict": said,
            "significant": variant.get("significant"),
            "better": variant.get("better"),
            "harm": variant.get("harm"),
            "unmet": threshold["reason"] if threshold else "",
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


# --- guardrails ---------------------------------------------------------------------------

def guardrail_cards(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each guardrail metric with, per treatment, its harm state in words and its difference."""
    cards = []
    for guardrail in results["guardrails"]:
        metric = guardrail["metric"]
        fmt = metric_formatter(MetricKind(metric["kind"]))
        margin = metric["nonInferiorityMargin"]
        cards.append({"metric": metric, "margin": f"{(margin or 0) * 100:g} %", "variants": [{
            "key": v["key"], "harm": v["harm"],
            "words": harm_words(v["harm"], margin, v["thresholdsMet"]),
            "difference": _cell(v["difference"], fmt.difference),
            "ci_low": _cell(v["ci"][0] if v["ci"] else None, fmt.difference),
            "ci_high": _cell(v["ci"][1] if v["ci"] else None, fmt.difference),
        } for v in guardrail["variants"]]})
    return cards


def harms(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The guardrails that show harm, with the treatments that cause it, for the warning."""
    return [{"metric": g["metric"], "variants": [v["key"] for v in g["variants"] if v["harm"]]}
            for g in results["guardrails"] if any(v["harm"] for v in g["variants"])]


# --- analysis settings in words -----------------------------------------------------------

TEST_WORDS = {"sequential": "Sequential test (valid whenever you look)",
              "ttest": "T-test (read once, at the planned size)"}
CORRECTION_WORDS = {"bonferroni": "Bonferroni", "holm": "Holm",
                    "benjamini-hochberg": "Benjamini–Hochberg (false discovery rate)", "none": "None"}
_SHORT_TESTS = {"sequential": "sequential", "ttest": "t-test"}
ALLOCATION_WORDS = {"fixed": "Fixed: the rollout weights you set",
                    "bandit": "Bandit: traffic moves to the likeliest best variant"}
REALLOCATION_WORDS = {"hourly": "every hour", "daily": "every day"}
_SETTING_NAMES = {"testType": "test", "confidenceLevel": "confidence level", "multipleTesting": "correction",
                  "cuped": "CUPED", "cupedWindowDays": "CUPED window", "sequentialEffect": "sequential effect",
                  "allocation": "allocation", "reallocation": "reallocation"}


def percent_input(fraction: float) -> str:
    """A fraction as the number a person types in a percent field: 0.95 → "95"."""
    return f"{round(fraction * 100, 6):g}"


def _setting_text(name: str, value: Any) -> str:
    """One setting's value, short, as the record of changes shows it."""
    if name == "testType":
        return _SHORT_TESTS.get(value, str(value))
    if name == "multipleTesting":
        return CORRECTION_WORDS.get(value, str(value))
    if name == "cuped":
        return "on" if value else "off"
    if name == "cupedWindowDays":
        return f"{value} days"
    if name in ("confidenceLevel", "sequentialEffect"):
        return f"{percent_input(value)} %"
    return str(value)


def _cuped_words(settings: Mapping[str, Any], results: Mapping[str, Any] | None) -> str:
    """CUPED on or off, and on the metric shown, how much of each difference's variance it removed."""
    if not settings["cuped"]:
        return "Off"
    words = f"On, with each user's metric in the {settings['cupedWindowDays']} days before exposure"
    if results is None:
        return words
    removed = [f"{v['key']} {v['varianceReduction'] * 100:.1f}\u00a0%" for v in results["variants"]
               if v.get("varianceReduction") is not None]
    if removed:
        words += f"; on {results['metric']['name']} it removed {', '.join(removed)} of the difference's variance"
    return words


def analysis_facts(settings: Mapping[str, Any], results: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The settings (their API document) as a person reads them, label by label; with results,
    also the family's size and what CUPED did on the metric shown."""
    family_size = results["analysis"]["familySize"] if results else None
    correction = CORRECTION_WORDS[settings["multipleTesting"]]
    if family_size == 1 and settings["multipleTesting"] != "none":
        correction += " (one comparison so far: nothing to correct)"
    elif family_size is not None and settings["multipleTesting"] != "none":
        correction += f", over {family_size} comparisons (treatments × primary and secondary metrics)"
    effect = f"Tuned for a {percent_input(settings['sequentialEffect'])} % relative effect"
    if settings["testType"] != "sequential":
        effect += " (used by the sequential test only)"
    return [("Test", TEST_WORDS[settings["testType"]]),
            ("Confidence level", f"{percent_input(settings['confidenceLevel'])} %"),
            ("Correction for many comparisons", correction),
            ("CUPED", _cuped_words(settings, results)),
            ("Sequential test", effect),
            ("Allocation", _allocation_words(settings))]


def _allocation_words(settings: Mapping[str, Any]) -> str:
    if settings["allocation"] != "bandit":
        return ALLOCATION_WORDS["fixed"]
    return (f"{ALLOCATION_WORDS['bandit']} on the primary metric, reallocated "
            f"{REALLOCATION_WORDS[settings['reallocation']]} once every variant has 100 exposed users")


def _metric_field(key: str, value: Any) -> str:
    if key == "nonInferiorityMargin":
        return "none" if value is None else f"{percent_input(value)} %"
    return str(value)


def _metric_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    old = {m["id"]: m for m in before}
    new = {m["id"]: m for m in after}
    said = [f"added {m['name']} ({m['role']})" for i, m in new.items() if i not in old]
    said += [f"removed {m['name']}" for i, m in old.items() if i not in new]
    for i, m in new.items():
        if i in old:
            said += [f"{m['name']} {label} {_metric_field(key, old[i].get(key))} → {_metric_field(key, m.get(key))}"
                     for key, label in (("role", "role"), ("direction", "direction"),
                                        ("nonInferiorityMargin", "margin"))
                     if old[i].get(key) != m.get(key)]
    return said or ["sent again unchanged"]


def change_summary(subject: str, before: Any, after: Any) -> str:
    """What one recorded change did, in a line: the fields that differ, old → new."""
    if subject == "metrics":
        return "; ".join(_metric_changes(before or [], after or []))
    before = before or {}
    said = [f"{_SETTING_NAMES.get(name, name)} {_setting_text(name, before.get(name))} → {_setting_text(name, value)}"
            for name, value in (after or {}).items() if before.get(name) != value]
    return "; ".join(said) or "no setting changed"


# --- over time ----------------------------------------------------------------------------

def over_time_rows(series: Sequence[Mapping[str, Any]], kind: MetricKind) -> list[dict[str, Any]]:
    """The over-time table: each interval's figures per treatment, as they stood at its end."""
    fmt = metric_formatter(kind)
    return [{"start": point["start"], "variants": [{
        "key": v["key"], "exposures": v["exposures"], "control_exposures": v["controlExposures"],
        "difference": _cell(v["difference"], fmt.difference),
        "ci_low": _cell(v["ci"][0] if v["ci"] else None, fmt.difference),
        "ci_high": _cell(v["ci"][1] if v["ci"] else None, fmt.difference),
        "adjusted_p": _cell(v["adjustedPValue"], p_value),
        "p_value": _cell(v["pValue"], p_value),
        "thresholds_met": v["thresholdsMet"],
    } for v in point["variants"]]} for point in series]
