"""The directories the cold-start children run from: each implementation with exactly what it
would ship, compiled the way ``sam build`` compiles it (unchecked-hash pycs)."""

from __future__ import annotations

import compileall
import importlib.metadata
import py_compile
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devkit.paths import AUTHORIZER_SRC, REPO_ROOT

BASELINES: Final = Path(__file__).resolve().with_name("baselines")
RUNTIME_LOCK: Final = REPO_ROOT / "layers" / "deps" / "requirements.txt"
# The distributions each baseline ships (besides its module) and those the Lambda Python runtime
# provides to every function (boto3 and what it needs; Powertools imports botocore if present).
TYPICAL_DISTRIBUTIONS: Final = (
    "pyjwt", "cryptography", "cffi", "pycparser",
    "requests", "urllib3", "idna", "certifi", "charset-normalizer",
    "aws-lambda-powertools", "jmespath", "typing-extensions",
)  # fmt: skip
MINIMAL_DISTRIBUTIONS: Final = ("cryptography", "cffi", "pycparser")
LAMBDA_RUNTIME_DISTRIBUTIONS: Final = (
    "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3",
)  # fmt: skip


@dataclass(frozen=True)
class Build:
    """Where each implementation's code and packages were copied and compiled."""

    root: Path
    paths: Mapping[str, tuple[Path, ...]]  # implementation -> sys.path entries, in order


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked_names(lock: Path) -> list[str]:
    names = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0])
    return names


def _copy_distributions(names: Sequence[str], target: Path) -> None:
    """Copy the installed files of each distribution (no scripts, no bytecode) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or ():
            relative = Path(str(file))
            if relative.parts[0] == ".." or "__pycache__" in relative.parts:
                continue
            source = Path(str(distribution.locate_file(file)))
            if not source.is_file():
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def _link_distributions(names: Sequence[str], target: Path) -> None:
    """The Lambda runtime's own packages (boto3, botocore): linked, with their bytecode."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        distribution = importlib.metadata.distribution(name)
        tops = {
            Path(str(file)).parts[0]
            for file in distribution.files or ()
            if not str(file).startswith("..") and ".dist-info" not in str(file)
        }
        for top in tops:
            source = Path(str(distribution.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source)


def _compile(directory: Path) -> None:
    """Unchecked-hash pycs, as layers/deps/Makefile and src/authorizer/Makefile write them."""
    ok = compileall.compile_dir(
        directory,
        quiet=2,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise RuntimeError(f"compileall failed in {directory}")


def build(root: Path) -> Build:
    """Copy and compile every implementation under ``root``."""
    runtime = root / "lambda-runtime"
    _link_distributions(LAMBDA_RUNTIME_DISTRIBUTIONS, runtime)
    task = root / "ours" / "task"
    shutil.copytree(
        AUTHORIZER_SRC / "jwt_authorizer",
        task / "jwt_authorizer",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    layer = root / "ours" / "layer"
    _copy_distributions(_locked_names(RUNTIME_LOCK), layer)
    typical = root / "typical"
    _copy_distributions(TYPICAL_DISTRIBUTIONS, typical)
    shutil.copyfile(BASELINES / "typical_authorizer.py", typical / "typical_authorizer.py")
    minimal = root / "minimal"
    _copy_distributions(MINIMAL_DISTRIBUTIONS, minimal)
    shutil.copyfile(BASELINES / "minimal_verifier.py", minimal / "minimal_verifier.py")
    for directory in (task, layer, typical, minimal):
        _compile(directory)
    return Build(
        root,
        {
            "ours": (task, layer, runtime),
            "typical": (typical, runtime),
            "minimal": (minimal, runtime),
            "bare": (),
        },
    )
