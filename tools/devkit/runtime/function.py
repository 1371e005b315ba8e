"""What the runtime needs to know of a function (the template's ``FunctionDef`` has all of it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devkit.constants import ACCOUNT_ID, REGION

__all__ = ["Function", "FunctionSpec", "Handler"]

Handler = Callable[[Any, Any], Any]
"""A Lambda handler: ``handler(event, context)``."""


class FunctionSpec(Protocol):
    """A function as configured: name, code, handler, limits and declared environment."""

    @property
    def logical_id(self) -> str: ...
    @property
    def function_name(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def handler(self) -> str | None: ...
    @property
    def code_uri(self) -> Path | None: ...
    @property
    def runtime(self) -> str | None: ...
    @property
    def environment(self) -> Mapping[str, str]: ...
    @property
    def timeout(self) -> int: ...
    @property
    def memory_size(self) -> int: ...


@dataclass(frozen=True)
class Function:
    """A :class:`FunctionSpec` built by hand (tests, functions outside any template)."""

    logical_id: str
    function_name: str
    arn: str
    handler: str | None = None
    code_uri: Path | None = None
    runtime: str | None = "python3.13"
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128

    @classmethod
    def named(cls, name: str, *, region: str = REGION, **kwargs: Any) -> Function:
        """A function called ``name`` (or the function an ARN names) in the local account."""
        if name.startswith("arn:"):
            return cls(logical_id=name, function_name=name.rsplit(":", 1)[-1], arn=name, **kwargs)
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
        return cls(logical_id=name, function_name=name, arn=arn, **kwargs)
