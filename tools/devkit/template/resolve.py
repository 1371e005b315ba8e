"""CloudFormation intrinsic functions, parameters, conditions and pseudo-parameters.

:class:`Intrinsics` evaluates one template's ``Ref``/``Fn::*`` expressions for given parameter
values the way CloudFormation would at deploy time: parameter defaults and overrides (with their
``AllowedValues``/``AllowedPattern`` checked), conditions, ``AWS::NoValue`` (the key or item
disappears) and pseudo-parameters. ``Ref``/``GetAtt`` of resources yield fake but stable values
(a function ARN in the local account, a 10-character API id) that remember their resource, so a
``FunctionArn: !GetAtt Fn.Arn`` can be traced back to ``Fn``. :func:`merge_globals` is SAM's
``Globals`` merge.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from devkit.constants import ACCOUNT_ID, REGION, STACK_NAME
from devkit.template.load import TemplateError

__all__ = [
    "FUNCTION_TYPE",
    "HTTP_API_TYPE",
    "IMPLICIT_HTTP_API",
    "IMPLICIT_REST_API",
    "LAYER_TYPE",
    "NO_VALUE",
    "REST_API_TYPE",
    "Intrinsics",
    "as_bool",
    "as_int",
    "fake_api_id",
    "is_intrinsic",
    "merge_globals",
    "partition_for",
    "scalar_text",
    "static_value",
    "str_list",
]

FUNCTION_TYPE: Final = "AWS::Serverless::Function"
REST_API_TYPE: Final = "AWS::Serverless::Api"
HTTP_API_TYPE: Final = "AWS::Serverless::HttpApi"
LAYER_TYPE: Final = "AWS::Serverless::LayerVersion"
IMPLICIT_REST_API: Final = "ServerlessRestApi"
IMPLICIT_HTTP_API: Final = "ServerlessHttpApi"


class _NoValue:
    """Marker for ``AWS::NoValue``: the enclosing key or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def fake_api_id(stack_name: str, logical_id: str) -> str:
    """A stable 10-character lower-case id shaped like a real execute-api id."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:10]


class Intrinsics:
    """Resolves parameters, conditions and ``Fn::*`` functions of one template.

    ``Ref``/``GetAtt`` of resources yield fake but stable values; every such value is recorded
    so that, e.g., ``FunctionArn: !GetAtt AuthFn.Arn`` can be traced back to ``AuthFn``.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameter_overrides: Mapping[str, str] | None = None,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        stack_name: str = STACK_NAME,
        check_parameters: bool = True,
    ) -> None:
        """``check_parameters=False`` skips ``AllowedValues``/``AllowedPattern`` (to trace any
        value through the template); CloudFormation, and the default, enforce them."""
        self.template = template
        self.check_parameters = check_parameters
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.partition = partition_for(region)
        self.resources: dict[str, Any] = dict(template.get("Resources") or {})
        self.mappings: dict[str, Any] = dict(template.get("Mappings") or {})
        self._conditions_raw: dict[str, Any] = dict(template.get("Conditions") or {})
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self.value_to_logical_id: dict[str, str] = {}
        self.parameters = self._resolve_parameters(dict(parameter_overrides or {}))

    # -- parameters and pseudo-parameters -------------------------------------------------

    def _resolve_parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared: dict[str, Any] = dict(self.template.get("Parameters") or {})
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {unknown}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            text = scalar_text(raw)
            allowed = spec.get("AllowedValues") if self.check_parameters else None
            if allowed is not None and text not in [scalar_text(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={text!r} not in AllowedValues {allowed}")
            pattern = spec.get("AllowedPattern") if self.check_parameters else None
            if pattern is not None and re.fullmatch(str(pattern), text) is None:
                raise TemplateError(f"parameter {name}={text!r} does not match AllowedPattern")
            ptype = str(spec.get("Type", "String"))
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                values[name] = [part.strip() for part in text.split(",")] if text else []
            else:
                values[name] = text
        return values

    def pseudo(self, name: str) -> Any:
        """Value of an ``AWS::*`` pseudo-parameter."""
        pseudo: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in pseudo:
            raise TemplateError(f"unknown pseudo-parameter {name}")
        return pseudo[name]

    # -- resources ---------------------------------------------------------------------------

    def _remember(self, value: str, logical_id: str) -> str:
        self.value_to_logical_id[value] = logical_id
        return value

    def function_name(self, logical_id: str) -> str:
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        name = props.get("FunctionName")
        if isinstance(name, str):
            return name
        return f"{self.stack_name}-{logical_id}"

    def function_arn(self, logical_id: str) -> str:
        return (
            f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:"
            f"function:{self.function_name(logical_id)}"
        )

    def ref_resource(self, logical_id: str) -> str:
        rtype = (self.resources.get(logical_id) or {}).get("Type")
        if rtype == FUNCTION_TYPE:
            return self._remember(self.function_name(logical_id), logical_id)
        if rtype in (REST_API_TYPE, HTTP_API_TYPE) or logical_id in (
            IMPLICIT_REST_API,
            IMPLICIT_HTTP_API,
        ):
            return self._remember(fake_api_id(self.stack_name, logical_id), logical_id)
        if rtype == LAYER_TYPE:
            return self._remember(
                f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:layer:{logical_id}:1",
                logical_id,
            )
        return self._remember(logical_id, logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources and logical_id not in (
            IMPLICIT_REST_API,
            IMPLICIT_HTTP_API,
        ):
            raise TemplateError(f"Fn::GetAtt of unknown resource {logical_id}")
        rtype = (self.resources.get(logical_id) or {}).get("Type")
        if rtype == FUNCTION_TYPE and attribute == "Arn":
            return self._remember(self.function_arn(logical_id), logical_id)
        if attribute == "ApiEndpoint":
            api_id = fake_api_id(self.stack_name, logical_id)
            return self._remember(
                f"https://{api_id}.execute-api.{self.region}.amazonaws.com", logical_id
            )
        if attribute == "RootResourceId":
            return self._remember(fake_api_id(self.stack_name, logical_id + "/"), logical_id)
        return self._remember(f"{logical_id}.{attribute}", logical_id)

    def logical_id_for(self, value: Any) -> str | None:
        """Logical id a resolved ``Ref``/``GetAtt`` value (or a string containing it) names."""
        if not isinstance(value, str):
            return None
        if value in self.value_to_logical_id:
            return self.value_to_logical_id[value]
        if value in self.resources:
            return value
        # e.g. an apigateway invocation URI built with !Sub around the function ARN
        for known, logical in self.value_to_logical_id.items():
            if known.startswith("arn:") and known in value:
                return logical
        return None

    # -- conditions --------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._conditions_raw:
            raise TemplateError(f"unknown condition {name}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} refers to itself")
        self._evaluating.add(name)
        try:
            result = self._eval_condition(self._conditions_raw[name])
        finally:
            self._evaluating.discard(name)
        self._condition_values[name] = result
        return result

    def _eval_condition(self, expr: Any) -> bool:
        if isinstance(expr, dict) and len(expr) == 1:
            ((key, arg),) = expr.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
                return bool(self._fn_condition(key, arg))
        value = self.resolve(expr)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError(f"not a condition: {expr!r}")

    def _fn_condition(self, key: str, arg: Any) -> bool:
        if not isinstance(arg, list):
            raise TemplateError(f"{key} needs a list")
        if key == "Fn::Equals":
            if len(arg) != 2:
                raise TemplateError("Fn::Equals needs two values")
            left, right = (self.resolve(a) for a in arg)
            return scalar_text(left) == scalar_text(right)
        if key == "Fn::Not":
            if len(arg) != 1:
                raise TemplateError("Fn::Not needs one condition")
            return not self._eval_condition(arg[0])
        if key == "Fn::And":
            return all(self._eval_condition(a) for a in arg)
        return any(self._eval_condition(a) for a in arg)

    # -- resolution --------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value``; ``AWS::NoValue`` entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key.startswith("Fn::"):
                return self._fn(key, arg)
        out: dict[str, Any] = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _ref(self, arg: Any) -> Any:
        name = self.resolve(arg)
        if not isinstance(name, str):
            raise TemplateError(f"Ref needs a name, got {name!r}")
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources or name in (IMPLICIT_REST_API, IMPLICIT_HTTP_API):
            return self.ref_resource(name)
        raise TemplateError(f"Ref to unknown name {name}")

    def _fn(self, key: str, arg: Any) -> Any:
        handlers: dict[str, Callable[[Any], Any]] = {
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::If": self._fn_if,
            "Fn::Join": self._fn_join,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::Base64": lambda a: base64.b64encode(str(self.resolve(a)).encode()).decode(),
            "Fn::GetAZs": lambda _a: [f"{self.region}{z}" for z in "abc"],
            "Fn::ImportValue": lambda a: f"imported:{self.resolve(a)}",
        }
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._fn_condition(key, arg)
        if key not in handlers:
            raise TemplateError(f"{key} is not supported by the emulator")
        return handlers[key](arg)

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical, _, attr = arg.partition(".")
        elif isinstance(arg, list) and len(arg) == 2:
            logical, attr = str(self.resolve(arg[0])), str(self.resolve(arg[1]))
        else:
            raise TemplateError(f"bad Fn::GetAtt {arg!r}")
        return self.get_att(logical, attr)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            raise TemplateError(f"bad Fn::Sub {arg!r}")
        if not isinstance(text, str):
            raise TemplateError("Fn::Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return scalar_text(variables[name])
            if name.startswith("AWS::"):
                value = self.pseudo(name)
            elif name in self.parameters:
                value = self.parameters[name]
            elif "." in name:
                logical, _, attr = name.partition(".")
                value = self.get_att(logical, attr)
            elif name in self.resources:
                value = self.ref_resource(name)
            else:
                raise TemplateError(f"Fn::Sub refers to unknown name {name}")
            if isinstance(value, list):
                return ",".join(scalar_text(v) for v in value)
            return scalar_text(value)

        return _SUB_VAR.sub(replace, text)

    def _fn_if(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3):
            raise TemplateError(f"bad Fn::If {arg!r}")
        chosen = arg[1] if self.condition(str(arg[0])) else arg[2]
        return self.resolve(chosen)

    def _fn_join(self, arg: Any) -> str:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::Join {arg!r}")
        delimiter = str(self.resolve(arg[0]))
        items = self.resolve(arg[1])
        if not isinstance(items, list):
            raise TemplateError("Fn::Join needs a list")
        return delimiter.join(scalar_text(i) for i in items)

    def _fn_select(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::Select {arg!r}")
        index = int(self.resolve(arg[0]))
        items = self.resolve(arg[1])
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"Fn::Select index {index} out of range")
        return items[index]

    def _fn_split(self, arg: Any) -> list[str]:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::Split {arg!r}")
        return str(self.resolve(arg[1])).split(str(self.resolve(arg[0])))

    def _fn_find_in_map(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            raise TemplateError(f"bad Fn::FindInMap {arg!r}")
        map_name, top, second = (str(self.resolve(a)) for a in arg[:3])
        try:
            return self.resolve(self.mappings[map_name][top][second])
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap {map_name}/{top}/{second} not found") from None


def scalar_text(value: Any) -> str:
    """CloudFormation's view of a scalar as text (YAML may have parsed ``true``/``5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        return ""
    raise TemplateError(f"expected a scalar, got {value!r}")


# --------------------------------------------------------------------------------------------
# Globals (SAM semantics: maps merged, lists concatenated, scalars overridden)
# --------------------------------------------------------------------------------------------


def is_intrinsic(value: Any) -> bool:
    """SAM treats an intrinsic-function dict as a scalar when merging Globals."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or str(key).startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """Merge a ``Globals`` entry with a resource's own value the way SAM does."""
    if (
        isinstance(global_value, dict)
        and isinstance(local_value, dict)
        and not is_intrinsic(global_value)
        and not is_intrinsic(local_value)
    ):
        merged = dict(global_value)
        for key, item in local_value.items():
            merged[key] = merge_globals(global_value[key], item) if key in global_value else item
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


# --------------------------------------------------------------------------------------------
# Coercions of resolved values (YAML may have parsed `true`/`5`)
# --------------------------------------------------------------------------------------------


def as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TemplateError(f"expected a boolean, got {value!r}")


def as_int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{what} must be an integer, got {value!r}") from None


def str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TemplateError(f"{what} must be a list of strings, got {value!r}")


def static_value(expr: str) -> str:
    """Strip the single quotes of an API Gateway static value (``"'*'"`` -> ``*``)."""
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        return expr[1:-1]
    return expr
