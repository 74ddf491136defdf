"""What a targeting condition may name: the Amplitude user's own fields and the operators.

The one list of condition operators: request bodies, project files, the console's form and
the compiler all read it from here.
"""

from __future__ import annotations

from typing import Literal, get_args

# The Management API's operators, in the order the console offers them.
ConditionOp = Literal[
    "is", "is not", "contains", "does not contain",
    "less", "less or equal", "greater", "greater or equal",
    "set is", "set is not", "set contains", "set does not contain",
    "set contains any", "set does not contain any",
    "glob match", "glob does not match", "regex match", "regex does not match",
    "version less", "version less or equal", "version greater", "version greater or equal",
]
CONDITION_OPS: tuple[str, ...] = get_args(ConditionOp)

# Globs are served as the regular expressions they mean: the SDKs' engines know no globs.
GLOB_OPS = {"glob match": "regex match", "glob does not match": "regex does not match"}
# The operators Amplitude's evaluation engines know.
ENGINE_OPS = frozenset(CONDITION_OPS) - GLOB_OPS.keys()

# Fields of the Amplitude user itself; any other property a condition names is a user property.
USER_FIELDS = frozenset(
    {
        "user_id",
        "device_id",
        "amplitude_id",
        "country",
        "city",
        "region",
        "dma",
        "language",
        "platform",
        "version",
        "os",
        "device_manufacturer",
        "device_brand",
        "device_model",
        "carrier",
        "library",
        "ip_address",
        "start_version",
        "paying",
        "cohort_ids",
    }
)
