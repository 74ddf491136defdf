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


# libyaml's parser, when PyYAML has it, reads the same YAML several times faster than
# `_Loader` (10,000 flags: 20 s of pure Python). It composes aliases itself, so a document is
# checked for them after composing and handed to `_Loader` when it has one (refused there, with
# the alias's line). libyaml refuses nesting deeper than 1,000 levels.
_FAST = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
# Resolvers by a plain scalar's first character, wildcards appended once rather than per node.
_WILDCARDS = tuple(_Loader.yaml_implicit_resolvers.get(None, []))
_BY_FIRST = {first: tuple(found) + _WILDCARDS
             for first, found in _Loader.yaml_implicit_resolvers.items() if first is not None}

if _FAST is not None:
    class _FastLoader(_FAST):  # type: ignore[valid-type,misc]
        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            """`Resolver.resolve` for a loader without path resolvers, minus its per-node
            list building (a third of reading a large file)."""
            if kind is not yaml.ScalarNode:
                return super().resolve(kind, value, implicit)
            if implicit[0]:
                for tag, pattern in _BY_FIRST.get(value[:1], _WILDCARDS):
                    if pattern.match(value):
                        return tag
            return self.DEFAULT_SCALAR_TAG


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
        return _load_yaml(text)
    except RecursionError:
        raise Invalid("the document is nested too deeply", code="invalid_document") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "unreadable"
        raise Invalid(f"the document is not valid JSON or YAML{where}: {problem}",
                      code="invalid_document") from None


def _load_yaml(text: str | bytes) -> Any:
    if _FAST is None:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if ("*" in text if isinstance(text, str) else b"*" in text) and _aliased(node):
            return yaml.load(text, Loader=_Loader)  # noqa: S506 - refuses it, naming the line
        return _construct(loader, node)  # too deep: RecursionError, refused as by `_Loader`
    finally:
        loader.dispose()


_SCALARS: dict[str, Any] = {
    "tag:yaml.org,2002:null": lambda loader, node: None,
    "tag:yaml.org,2002:bool": lambda loader, node: loader.construct_yaml_bool(node),
    "tag:yaml.org,2002:int": lambda loader, node: loader.construct_yaml_int(node),
    "tag:yaml.org,2002:float": lambda loader, node: loader.construct_yaml_float(node),
}
_MERGE = "tag:yaml.org,2002:merge"


def _construct(loader: Any, node: yaml.Node) -> Any:
    """What SafeConstructor makes of `node`, in one pass for plain maps, lists and the scalars
    the resolvers name (SafeConstructor's own walk was a third of reading a large file);
    anything else (explicit tags, merge keys, unhashable keys) is left to SafeConstructor."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        scalar = _SCALARS.get(node.tag)
        return scalar(loader, node) if scalar is not None else loader.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode) and node.tag == "tag:yaml.org,2002:seq":
        return [_construct(loader, item) for item in node.value]
    if isinstance(node, yaml.MappingNode) and node.tag == "tag:yaml.org,2002:map" and not any(
            key.tag == _MERGE for key, _ in node.value):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node)
            if isinstance(key, list | dict):  # unhashable: SafeConstructor says so, with its mark
                return loader.construct_object(node, deep=True)
            mapping[key] = _construct(loader, value_node)
        return mapping
    return loader.construct_object(node, deep=True)


def _aliased(root: yaml.Node) -> bool:
    """True when a node is reached twice: an alias repeats the node it names."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return True
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return False
