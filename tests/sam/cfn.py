"""Just enough CloudFormation for the template tests: a tag-aware YAML loader and a resolver that
evaluates the intrinsic functions template.yaml uses (Ref to parameters, Sub, If with conditions,
Equals, Not, And, Or, Select, Split, Join) for a given set of parameter values.

Short tags become their long form (``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` ->
``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` -> ``{"Fn::Sub": "s"}``), as CloudFormation reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form tags."""


def _construct(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(document, dict)
    return document


class Unresolvable(Exception):
    """The expression needs something only CloudFormation knows (GetAtt, resource Refs, ...)."""


PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "jwt-authorizer",
    "AWS::URLSuffix": "amazonaws.com",
}


class Resolver:
    """Evaluates intrinsic functions over parameter values (defaults unless overridden)."""

    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str] | None = None):
        self.template = template
        params = template.get("Parameters", {})
        self.values: dict[str, str] = {
            name: str(spec.get("Default", "")) for name, spec in params.items()
        }
        unknown = set(overrides or {}) - set(self.values)
        if unknown:
            raise KeyError(f"not template parameters: {sorted(unknown)}")
        self.values.update(overrides or {})
        self.values.update(PSEUDO)

    def condition(self, name: str) -> bool:
        result = self.resolve(self.template["Conditions"][name])
        assert isinstance(result, bool), (name, result)
        return result

    def resolve(self, value: Any) -> Any:  # one branch per intrinsic function
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            if arg == "AWS::NoValue":
                return None
            if arg in self.values:
                return self.values[arg]
            raise Unresolvable(f"Ref {arg}")
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            scope = {**self.values, **{k: self.resolve(v) for k, v in variables.items()}}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in scope:
                    raise Unresolvable(f"Sub ${{{name}}}")
                return str(scope[name])

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(item) for item in arg)
        if key == "Fn::Or":
            return any(self.resolve(item) for item in arg)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in self.resolve(items))
        if key.startswith("Fn::"):
            raise Unresolvable(key)
        return {key: self.resolve(arg)}


def environment(
    template: Mapping[str, Any], function: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A function's environment variables as deployed with these parameter values."""
    resolver = Resolver(template, overrides)
    props = template["Resources"][function]["Properties"]
    variables = props.get("Environment", {}).get("Variables", {})
    resolved = {name: resolver.resolve(value) for name, value in variables.items()}
    return {name: str(value) for name, value in resolved.items() if value is not None}


def parse_overrides(entries: list[str]) -> dict[str, str]:
    """samconfig.toml's ``parameter_overrides = ["Name=value", ...]`` as a mapping."""
    result: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        assert sep, f"not Name=value: {entry!r}"
        result[name] = value
    return result
