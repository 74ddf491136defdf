"""The project file: parsing with locations, and the canonical form imports compare."""

from __future__ import annotations

from typing import Any

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.project_file import canonical, parse


def test_parse__minimal_flag__defaults_as_on_create() -> None:
    document = parse({"flags": [{"key": "a"}], "experiments": [{"key": "b"}]})
    flag = canonical(Kind.FLAG, document.flags[0])
    experiment = canonical(Kind.EXPERIMENT, document.experiments[0])
    assert (flag["name"], [v["key"] for v in flag["variants"]]) == ("a", ["on"])
    assert [v["key"] for v in experiment["variants"]] == ["control", "treatment"]
    assert experiment["experimentType"] == "a-b-test" and flag["bucketingSalt"] is None


def test_canonical__deployment_order__ignored() -> None:
    one = parse({"flags": [{"key": "a", "deployments": ["b", "a"]}]}).flags[0]
    two = parse({"flags": [{"key": "a", "deployments": ["a", "b"]}]}).flags[0]
    assert canonical(Kind.FLAG, one) == canonical(Kind.FLAG, two)


@pytest.mark.parametrize(("raw", "message"), [
    ([], "the document must be a JSON or YAML object"),
    ({"formatVersion": 2}, "formatVersion: "),
    ({"flags": [{"key": "a"}, {"key": "b", "variants": [{"key": "x"}, {"key": "y z"}]}]},
     "flags[1].variants[1].key: "),
    ({"flags": [{"key": "a"}], "experiments": [{"key": "a"}]},
     "experiments[0].key: 'a' is also the key of flags[0]"),
    ({"flags": [{"key": "a", "variants": [{"key": "off"}]}]}, "flags[0].variants[0].key: 'off' is reserved"),
    ({"flags": [{"key": "a", "variants": [{"key": "on", "users": ["u", "u"]}]}]},
     "flags[0].variants[0].users[1]: 'u' is listed twice"),
    ({"deployments": [{"label": "p"}, {"label": "p"}]}, "deployments[1].label: 'p' is listed twice"),
    ({"flags": [{"key": "a", "targetSegments": [{"name": "s", "percentage": 5, "rolloutWeights": {},
                                                   "conditions": [{"prop": "c", "op": "nearly", "values": []}]}]}]},
     "flags[0].targetSegments[0].conditions[0].op: 'nearly' is not a condition operator"),
    ({"flags": [{"key": "a", "enabled": "yes"}]}, "flags[0].enabled: "),
    ({"groups": []}, "groups: is not a field of this section"),
    ({"flags": [{"key": "a", "name": "nul\x00"}]}, "flags[0].name: must not contain NUL"),
    ({"flags": [{"key": "a", "variants": [{"key": "on", "payload": 2**60}]}]},
     "flags[0].variants[0].payload: must not contain integers beyond"),
    ({"experiments": [{"key": "a", "startDate": "soon"}]}, "experiments[0].startDate: must be a date"),
])
def test_parse__invalid__first_problem_by_location(raw: Any, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse(raw)
    assert str(refused.value).startswith(message), str(refused.value)
