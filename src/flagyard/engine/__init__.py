"""Pure evaluation engine compatible with Amplitude Experiment's evaluation.

Stdlib only (plus the optional `mmh3` accelerator); no I/O, clock or logging.
"""

from .context import user_to_context
from .errors import CycleError, InvalidFlag
from .evaluate import evaluate, evaluate_flag
from .flagset import FlagSet
from .model import Allocation, Bucket, Condition, Distribution, Flag, Segment, Variant
from .murmur3 import hash32
from .result import EvaluationResult
from .serde import flag_to_dict, flags_to_list, parse_flag, parse_flags
from .topo import sort_flags

__all__ = [
    "Allocation",
    "Bucket",
    "Condition",
    "CycleError",
    "Distribution",
    "EvaluationResult",
    "Flag",
    "FlagSet",
    "InvalidFlag",
    "Segment",
    "Variant",
    "evaluate",
    "evaluate_flag",
    "flag_to_dict",
    "flags_to_list",
    "hash32",
    "parse_flag",
    "parse_flags",
    "sort_flags",
    "user_to_context",
]
