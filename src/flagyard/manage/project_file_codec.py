"""Reading and writing project files as YAML or JSON: sorted keys, one stable text per project."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import yaml

from flagyard.errors import Invalid

Format = Literal["yaml", "json"]


class _Loader(yaml.SafeLoader):
    """YAML 1.2 scalars: only true/false are booleans (`on`, `off`, `yes` stay strings, as
    variant keys need), and dates stay strings (the model keeps ISO text). No aliases: a few
    bytes of `*ref` can expand to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (descriptions) as a block, which diffs line by line.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(document: dict[str, Any], fmt: Format = "yaml") -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return yaml.dump(document, Dumper=_Dumper, sort_keys=True, allow_unicode=True,
                     default_flow_style=False, width=100)


def load(text: str | bytes) -> Any:
    """A YAML or JSON document; `Invalid` naming the line when it is neither."""
    try:
        return json.loads(text)  # the fast path: JSON from scripts and the HTTP API
    except (ValueError, RecursionError):
        pass
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise Invalid("the document is nested too deeply", code="invalid_document") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "unreadable"
        raise Invalid(f"the document is not valid JSON or YAML{where}: {problem}",
                      code="invalid_document") from None
