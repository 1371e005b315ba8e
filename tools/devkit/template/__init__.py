"""SAM template loading: the one CloudFormation/SAM resolver of the project.

* :mod:`~devkit.template.load`: YAML with CloudFormation's short tags, ``Name=value`` lists;
* :mod:`~devkit.template.resolve`: parameters, conditions, pseudo-parameters, ``Fn::*``,
  ``Globals`` merging;
* :mod:`~devkit.template.model`: what the emulator and ``invoke`` need (functions, APIs,
  authorizers, routes);
* :mod:`~devkit.template.build`: template -> model (:func:`load_template`), and one function's
  deployed environment (:func:`deployed_environment`).

The emulator, ``python -m devkit invoke``, the fixtures generator and the template tests
(tests/sam) all read ``template.yaml`` through this package.
"""

from __future__ import annotations

from devkit.template.build import deployed_environment, load_template, parse_template
from devkit.template.load import TemplateError, load_yaml, parameter_pairs, read_template
from devkit.template.model import (
    CorsDef,
    FunctionDef,
    GatewayResponseDef,
    HttpApiDef,
    HttpAuthorizerDef,
    IdentityKind,
    IdentitySource,
    RestApiDef,
    RestAuthorizerDef,
    RouteDef,
    TemplateModel,
)
from devkit.template.resolve import NO_VALUE, Intrinsics, fake_api_id, merge_globals, scalar_text

__all__ = [
    "NO_VALUE",
    "CorsDef",
    "FunctionDef",
    "GatewayResponseDef",
    "HttpApiDef",
    "HttpAuthorizerDef",
    "IdentityKind",
    "IdentitySource",
    "Intrinsics",
    "RestApiDef",
    "RestAuthorizerDef",
    "RouteDef",
    "TemplateError",
    "TemplateModel",
    "deployed_environment",
    "fake_api_id",
    "load_template",
    "load_yaml",
    "merge_globals",
    "parameter_pairs",
    "parse_template",
    "read_template",
    "scalar_text",
]
