"""The configuration a diagnosis looks at: exactly what the deployed function would read.

A deployment is ``template.yaml`` with parameter values: those of a ``samconfig.toml``
environment (``--config-env``, what ``sam deploy --config-env`` uses), an ``AuthConfig``
document (``--config``) and explicit ``--parameter-overrides``, in that order. The template's
parameter → environment mapping (:func:`devkit.template.deployed_environment`) turns them into
the function's environment, and the function's own loader (``jwt_authorizer.config.load_config``,
with the function root ``src/authorizer`` as Lambda's ``/var/task``) validates it: the same
``ConfigError`` the Lambda init would raise, naming the same field.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from devkit.paths import AUTHORIZER_SRC, SAMCONFIG, TEMPLATE, shown_path
from devkit.template import TemplateError, deployed_environment, parameter_pairs, read_template
from jwt_authorizer.config import Config, load_config
from jwt_authorizer.errors import ConfigError

__all__ = [
    "AUTHORIZER",
    "Config",
    "ConfigError",
    "Deployment",
    "DeploymentError",
    "deployment",
    "describe_environment",
    "load",
    "samconfig_overrides",
]

AUTHORIZER: Final = "AuthorizerFunction"
#: The variables simple mode reads (``source.py``), in the order they are shown.
SIMPLE_MODE_VARIABLES: Final = (
    "ISSUER",
    "AUDIENCE",
    "ISSUER_PROFILE",
    "DISCOVERY_URL",
    "JWKS_URI",
    "ALGORITHMS",
    "SCOPE_CLAIMS",
    "ALLOWED_CLIENT_IDS",
    "ROUTES",
    "RESPONSE_MODE",
)


class DeploymentError(ValueError):
    """The parameters cannot be deployed: ``field`` names what to fix. ``usage``: a problem
    with the options (an unknown samconfig environment, a file that is not there) rather than
    with the configuration (a parameter value CloudFormation would refuse)."""

    def __init__(self, field: str, problem: str, *, usage: bool = True) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.usage = usage


@dataclass(frozen=True)
class Deployment:
    """One function configuration as it would be deployed."""

    #: Where it comes from, for the first line of a report.
    description: str
    #: Template parameter values (``Name=value``), defaults left out.
    parameters: Mapping[str, str]
    #: The authorizer function's environment, as CloudFormation would set it.
    environment: Mapping[str, str]
    template: Path = TEMPLATE
    notes: tuple[str, ...] = field(default=())

    @property
    def mode(self) -> str:
        """``AUTH_CONFIG`` (a document) or ``simple mode`` (the individual variables)."""
        return "AUTH_CONFIG document" if self.environment.get("AUTH_CONFIG") else "simple mode"


def samconfig_overrides(env: str, path: Path = SAMCONFIG) -> dict[str, str]:
    """``parameter_overrides`` of a ``samconfig.toml`` environment: ``[env.global.parameters]``
    then ``[env.deploy.parameters]`` (the command's own section wins, as with SAM). Each entry is
    ``Name=value``; a single string holds several, shell-quoted."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DeploymentError("--config-env", f"cannot read {shown_path(path)}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise DeploymentError("--config-env", f"{shown_path(path)} is not TOML: {err}") from err
    section = data.get(env)
    if not isinstance(section, dict):
        known = ", ".join(sorted(name for name, value in data.items() if isinstance(value, dict)))
        raise DeploymentError(
            "--config-env", f"{shown_path(path)} has no environment {env!r} (it has: {known})"
        )
    pairs: dict[str, str] = {}
    for command in ("global", "deploy"):
        parameters = (section.get(command) or {}).get("parameters") or {}
        raw: Any = parameters.get("parameter_overrides")
        if raw is None:
            continue
        entries = shlex.split(raw) if isinstance(raw, str) else [str(item) for item in raw]
        pairs.update(_pairs(entries, f"{shown_path(path)} [{env}.{command}.parameters]"))
    return pairs


def _pairs(entries: Sequence[str], what: str) -> dict[str, str]:
    """``Name=value`` entries, also in CloudFormation's ``ParameterKey=..,ParameterValue=..``."""
    pairs: dict[str, str] = {}
    for entry in entries:
        if entry.startswith("ParameterKey="):
            key, sep, value = entry[len("ParameterKey=") :].partition(",ParameterValue=")
            if sep:
                pairs[key] = value
                continue
        try:
            pairs.update(parameter_pairs([entry], what))
        except TemplateError as err:
            raise DeploymentError(what, str(err)) from err
    return pairs


def _document(config: str) -> tuple[str, str]:
    """``--config``: the ``AuthConfig`` value and how to describe it. ``file:<path>`` is read
    from the current directory when it is there, else left to the function, which resolves it
    against its root (``src/authorizer``, ``/var/task`` on Lambda) like ``AUTH_CONFIG``."""
    text = config.strip()
    if text.startswith("ssm:"):
        raise DeploymentError(
            "--config", "ssm: parameters live in AWS; save the document to a file and pass file:"
        )
    if not text.startswith("file:"):
        return text, "a document given inline"
    name = text[len("file:") :]
    local = Path(name).expanduser()
    if local.is_file():
        try:
            return local.read_text(encoding="utf-8").strip(), f"{name}"
        except (OSError, UnicodeDecodeError) as err:
            raise DeploymentError("--config", f"cannot read {name}: {err}") from err
    if (AUTHORIZER_SRC / name).is_file():
        return text, f"{name} in the function package ({shown_path(AUTHORIZER_SRC / name)})"
    raise DeploymentError(
        "--config",
        f"no file {name} here nor in the function package ({shown_path(AUTHORIZER_SRC)}/)",
    )


def deployment(
    *,
    config: str | None = None,
    config_env: str | None = None,
    parameter_overrides: Sequence[str] = (),
    template: Path = TEMPLATE,
    samconfig: Path = SAMCONFIG,
) -> Deployment:
    """The deployment the options describe. Without ``config`` and ``config_env``: the
    ``default`` environment of ``samconfig.toml``, what a bare ``sam deploy`` uses."""
    parameters: dict[str, str] = {}
    sources: list[str] = []
    if config_env is None and config is None and samconfig.is_file():
        config_env = "default"
    if config_env is not None:
        parameters.update(samconfig_overrides(config_env, samconfig))
        sources.append(f"{shown_path(samconfig)} [{config_env}]")
    if config is not None:
        value, where = _document(config)
        parameters["AuthConfig"] = value
        parameters.pop("AuthConfigSsmParameter", None)
        sources.append(f"AuthConfig from {where}")
    if parameter_overrides:
        parameters.update(_pairs(parameter_overrides, "--parameter-overrides"))
        sources.append("--parameter-overrides")
    if parameters.get("AuthConfigSsmParameter"):
        raise DeploymentError(
            "AuthConfigSsmParameter",
            "the document lives in SSM; save it to a file and pass --config file:<path>",
        )
    try:
        environment = deployed_environment(read_template(template), AUTHORIZER, parameters)
    except TemplateError as err:
        raise DeploymentError(shown_path(template), str(err), usage=False) from err
    sources.append(f"{shown_path(template)} parameters")
    return Deployment(
        description=" + ".join(sources),
        parameters=parameters,
        environment=environment,
        template=template,
    )


def load(deployed: Deployment) -> Config:
    """The function's configuration, loaded by the function's own code (raises its
    ``ConfigError``)."""
    return load_config(dict(deployed.environment), base_dir=AUTHORIZER_SRC)


def describe_environment(deployed: Deployment) -> list[str]:
    """The variables that decide the configuration, as ``NAME=value`` (long values cut)."""
    env = deployed.environment
    names = ("AUTH_CONFIG", "RESPONSE_MODE") if env.get("AUTH_CONFIG") else SIMPLE_MODE_VARIABLES
    lines = []
    for name in names:
        value = env.get(name) or ""
        if value:
            if name == "AUTH_CONFIG" and value.lstrip().startswith("{"):
                value = _one_line(value)
            lines.append(f"{name}={value if len(value) <= 100 else value[:99] + '…'}")
    return lines


def _one_line(text: str) -> str:
    try:
        return json.dumps(json.loads(text), separators=(",", ":"))
    except ValueError:
        return " ".join(text.split())
