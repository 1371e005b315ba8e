"""What every command shares: the command protocol, usage errors, common options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from devkit.paths import TEMPLATE
from devkit.template import TemplateError, parameter_pairs

if TYPE_CHECKING:
    from devkit.diagnose.source import Config, Deployment

__all__ = [
    "Command",
    "ConfigProblem",
    "Subparsers",
    "UsageError",
    "add_config_options",
    "add_template_option",
    "add_user_config_options",
    "load_deployment",
    "pairs",
    "user_config",
]

Subparsers = Any  # argparse's _SubParsersAction, which typeshed keeps private


class Command(Protocol):
    """A command module (see :mod:`devkit.commands`)."""

    NAME: str

    def add_parser(self, subparsers: Subparsers) -> argparse.ArgumentParser: ...

    def run(self, args: argparse.Namespace) -> int: ...


class UsageError(Exception):
    """A problem with the command line or its files (exit status 2), not with the function."""


class ConfigProblem(Exception):
    """The configuration itself is wrong (what the function's init, or CloudFormation, would
    refuse): ``field`` names what to fix."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def add_template_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-t",
        "--template",
        type=Path,
        default=TEMPLATE,
        help="SAM template (default: template.yaml)",
    )


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """Which configuration: a samconfig.toml environment, a document, parameter overrides."""
    group = parser.add_argument_group(
        "configuration (default: samconfig.toml [default] through template.yaml)"
    )
    group.add_argument(
        "--config",
        metavar="JSON|file:PATH",
        help="an AUTH_CONFIG document (the AuthConfig parameter): JSON, or file:PATH (from the "
        "current directory, else from the function root src/authorizer/ as on Lambda)",
    )
    group.add_argument(
        "--config-env",
        metavar="ENV",
        help="a samconfig.toml environment (its parameter_overrides), e.g. default, wso2",
    )
    group.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
        help="template parameter values on top, as with sam (e.g. ResponseMode=iam)",
    )  # fmt: skip
    add_template_option(parser)


def add_user_config_options(parser: argparse.ArgumentParser) -> None:
    """``serve`` and ``demo``: a user's configuration, pointed at the local identity provider."""
    group = parser.add_argument_group(
        "your configuration (its routes and settings; the issuer becomes the local IdP)"
    )
    group.add_argument(
        "--config", metavar="JSON|file:PATH", help="an AUTH_CONFIG document (AuthConfig)"
    )
    group.add_argument("--config-env", metavar="ENV", help="a samconfig.toml environment")
    group.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE",
        help="template parameter values on top (e.g. ResponseMode=iam AuthorizerCacheTtl=0)",
    )  # fmt: skip


def user_config(args: argparse.Namespace) -> dict[str, str] | None:
    """The template parameters of ``add_user_config_options``' options, or None without them."""
    from devkit.diagnose.source import DeploymentError, deployment

    if args.config is None and args.config_env is None and not args.parameter_overrides:
        return None
    try:
        deployed = deployment(
            config=args.config,
            config_env=args.config_env,
            parameter_overrides=args.parameter_overrides,
            template=args.template,
        )
    except DeploymentError as err:
        raise UsageError(str(err)) from err
    return dict(deployed.parameters)


def load_deployment(
    args: argparse.Namespace, *, config_errors: bool = False
) -> tuple[Deployment, Config]:
    """The deployment the options describe and its configuration, loaded by the function's
    code; prints which one it is. A problem is a :class:`UsageError` naming the field, or with
    ``config_errors`` a :class:`ConfigProblem` when the configuration itself is wrong."""
    from devkit.diagnose.report import LABEL_WIDTH
    from devkit.diagnose.source import ConfigError, DeploymentError, deployment, load

    try:
        deployed = deployment(
            config=args.config,
            config_env=args.config_env,
            parameter_overrides=args.parameter_overrides,
            template=args.template,
        )
    except DeploymentError as err:
        if config_errors and not err.usage:
            raise ConfigProblem(err.field, err.problem) from err
        raise UsageError(str(err)) from err
    print(f"{'configuration':<{LABEL_WIDTH}}{deployed.description}")
    try:
        config = load(deployed)
    except ConfigError as err:
        if config_errors:
            raise ConfigProblem(err.field, err.problem) from err
        raise UsageError(f"configuration error: {err}") from err
    rules = len(config.routes)
    print(
        f"{'':<{LABEL_WIDTH}}{deployed.mode}: {len(config.issuers)} issuer"
        f"{'s' if len(config.issuers) != 1 else ''}, {rules} route rule{'s' if rules != 1 else ''}"
        f", unmatched {config.unmatched}, response_mode {config.response_mode}"
    )
    return deployed, config


def pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a mapping (a :class:`UsageError` names ``option``)."""
    try:
        return parameter_pairs(values, option)
    except TemplateError as err:
        raise UsageError(str(err)) from err
