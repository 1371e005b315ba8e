"""Reading SAM/CloudFormation templates: YAML with the short intrinsic tags, and parameter lists.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``,
``!Sub s`` becomes ``{"Fn::Sub": "s"}``: the long forms CloudFormation itself works with, so the
resolver (:mod:`devkit.template.resolve`) sees one spelling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = ["TemplateError", "load_yaml", "parameter_pairs", "read_template"]


class TemplateError(ValueError):
    """The template uses something invalid or something the emulator cannot emulate."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` style tags into their long JSON forms."""


def _tag_constructor(fn_name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:  # pragma: no cover - PyYAML only has these three node kinds
            raise TemplateError(f"unsupported node for !{fn_name}")
        if fn_name == "Fn::GetAtt" and isinstance(value, str):
            # The short form is "Logical.Attr"; the attribute may itself contain dots.
            logical, _, attr = value.partition(".")
            value = [logical, attr]
        return {fn_name: value}

    return construct


_SHORT_TAGS: Final = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt",
            "Sub",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "Join",
            "Select",
            "Split",
            "FindInMap",
            "Base64",
            "GetAZs",
            "ImportValue",
            "Cidr",
            "Transform",
            "ToJsonString",
            "Length",
        )
    },
}
for _tag, _fn in _SHORT_TAGS.items():
    _CfnLoader.add_constructor(f"!{_tag}", _tag_constructor(_fn))


def load_yaml(text: str) -> dict[str, Any]:
    """Parse template text; short tags become ``{"Fn::X": ...}`` / ``{"Ref": ...}``."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError("template root must be a mapping")
    return data


def read_template(path: str | Path) -> dict[str, Any]:
    """Parse a template file (see :func:`load_yaml`)."""
    return load_yaml(Path(path).read_text(encoding="utf-8"))


def parameter_pairs(entries: Iterable[str], what: str = "parameter overrides") -> dict[str, str]:
    """``["Name=value", ...]`` (``--parameter-overrides``, samconfig.toml) as a mapping.

    The value may itself contain ``=``; an entry without one, or without a name, is an error.
    """
    pairs: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep or not name:
            raise TemplateError(f"{what}: expected Name=value, got {entry!r}")
        pairs[name] = value
    return pairs
