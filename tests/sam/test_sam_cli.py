"""The SAM CLI accepts the template and builds deployable artifacts for both architectures.

Runs the pinned SAM CLI through tools/sam.sh (its own venv, .venv-sam, installed on first use,
about a minute). ``sam build`` runs without Docker: the layer's Makefile (layers/deps) has pip
download the manylinux wheels of the layer's architecture even when the host has the other one, so
an arm64 layer builds on an x86_64 machine; it and the functions' Makefiles then compile python3.13
bytecode. The checks below prove it did:

- every compiled extension in the built layer is an ELF object for the function's architecture;
- every wheel in the layer is tagged for that architecture (or pure Python);
- the layer holds exactly the pinned lock (layers/deps/requirements.txt), without boto3;
- every .py in the layer and the functions has its unchecked-hash CPython 3.13 pyc (Lambda cannot
  write __pycache__, and zip extraction loses the mtimes timestamp pycs are checked against);
- the built functions import with only the layer on sys.path, and do so from the shipped bytecode
  alone (on the build whose architecture the host can execute; the other build is only checked
  statically).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devkit import paths
from devkit.template import deployed_environment, parameter_pairs, read_template

ROOT = paths.REPO_ROOT
SAM = ROOT / "tools" / "sam.sh"
IMPORT_CHECK = Path(__file__).with_name("import_check.py")
BYTECODE_CHECK = Path(__file__).with_name("bytecode_check.py")
ARCHITECTURES = ("arm64", "x86_64")
E_MACHINE = {"x86_64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower()
)
FUNCTIONS = ("AuthorizerFunction", "BackendFunction")
#: python-jose's declared dependencies that its cryptography backend never imports: not shipped.
UNUSED_BY_JOSE = frozenset({"ecdsa", "rsa", "pyasn1"})
PACKAGES = {"AuthorizerFunction": "jwt_authorizer", "BackendFunction": "sample_backend"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _python() -> str:
    return subprocess.run(
        [str(ROOT / "tools" / "find-python")], check=True, capture_output=True, text=True
    ).stdout.strip()


PYTHON = _python()


def _sam_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never probe for instance credentials
    return env


def run_sam(*args: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(SAM), *args],
        cwd=ROOT,
        env=_sam_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result, time.monotonic() - started


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# ------------------------------------------------------------------------------- validate


def test_sam_validate_lint() -> None:
    result, seconds = run_sam("validate", "--lint", "--template-file", str(paths.TEMPLATE))
    assert result.returncode == 0, _report(result)
    assert "is a valid SAM Template" in result.stdout + result.stderr
    sys.stderr.write(f"sam validate --lint: {seconds:.1f}s\n")


@pytest.mark.parametrize("environment", ["default", "wso2"])
def test_sam_validate_with_samconfig_environment(environment: str) -> None:
    # samconfig.toml's validate section asks for lint; this also proves the file parses.
    result, _ = run_sam("validate", "--config-env", environment)
    assert result.returncode == 0, _report(result)


# ------------------------------------------------------------------------------- build


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """sam build for one architecture, once per module; returns the build directory."""
    version = subprocess.run(
        [PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if version != "3.13":
        pytest.skip(
            f"sam build needs python3.13 (the Lambda runtime); tools/find-python: {version}"
        )
    builds: dict[str, Path | str] = {}

    def build(architecture: str) -> Path:
        if architecture not in builds:
            out = tmp_path_factory.mktemp(f"sam-build-{architecture}")
            config = out / "samconfig.toml"  # an empty config: ignore the repository's settings
            config.write_text("version = 0.1\n", encoding="utf-8")
            result, seconds = run_sam(
                "build",
                "--template-file",
                str(paths.TEMPLATE),
                "--build-dir",
                str(out / "build"),
                "--config-file",
                str(config),
                "--parameter-overrides",
                f"Architecture={architecture}",
            )
            sys.stderr.write(f"sam build ({architecture}): {seconds:.1f}s\n")
            builds[architecture] = out / "build" if result.returncode == 0 else _report(result)
        built = builds[architecture]
        if isinstance(built, str):
            pytest.fail(f"sam build ({architecture}) failed:\n{built}")
        return built

    return build


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file (None if the file is not ELF)."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byteorder = "little" if header[5] == 1 else "big"
    return int.from_bytes(header[18:20], byteorder)


def _extensions(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and (path.suffix == ".so" or ".so." in path.name)
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "layers/deps/requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"not an exact pin: {line!r}"
        pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _installed(layer: Path) -> dict[str, str]:
    installed = {}
    for info in layer.glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        installed[_canonical(name)] = version
    return installed


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_layer_extensions_match_architecture(
    sam_build: Callable[[str], Path], architecture: str
) -> None:
    build = sam_build(architecture)
    layer = build / "DependenciesLayer" / "python"
    extensions = _extensions(layer)
    # cryptography (RSA/EC signatures) and cffi ship compiled code: the check is never vacuous.
    assert any("cryptography" in path.parts for path in extensions), extensions
    wrong = {
        str(path.relative_to(build)): elf_machine(path)
        for path in _extensions(build)
        if elf_machine(path) != E_MACHINE[architecture]
    }
    assert not wrong, f"expected e_machine {E_MACHINE[architecture]} ({architecture}): {wrong}"


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_layer_wheels_are_for_the_architecture(
    sam_build: Callable[[str], Path], architecture: str
) -> None:
    layer = sam_build(architecture) / "DependenciesLayer" / "python"
    for wheel in layer.glob("*.dist-info/WHEEL"):
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text(encoding="utf-8").splitlines()
            if line.startswith("Tag:")
        ]
        assert tags, wheel
        parsed = [tag.split("-") for tag in tags]
        for tag, (_python, _abi, platform_tag) in zip(tags, parsed, strict=True):
            assert platform_tag == "any" or WHEEL_ARCH[architecture] in platform_tag, (wheel, tag)
        # a universal wheel lists py2 and py3 tags: one of them must admit CPython 3.13
        assert any(_runs_on_cpython_313(python, abi) for python, abi, _ in parsed), (wheel, tags)


def _runs_on_cpython_313(python_tag: str, abi: str) -> bool:
    """A wheel's python/abi tags admit the Lambda runtime's CPython 3.13."""
    for tag in python_tag.split("."):
        if tag.startswith("py") and tag[2:3] in {"", "3"}:
            return True
        minor = re.fullmatch(r"cp3(\d+)", tag)
        if minor and (int(minor.group(1)) == 13 or (abi == "abi3" and int(minor.group(1)) <= 13)):
            return True
    return False


@pytest.mark.parametrize(
    ("python_tag", "abi", "ok"),
    [
        ("py3", "none", True),
        ("py2.py3", "none", True),
        ("cp313", "cp313", True),
        ("cp311", "abi3", True),
        ("cp312", "cp312", False),
        ("cp314", "abi3", False),
        ("py2", "none", False),
    ],
)
def test_wheel_tag_rule(python_tag: str, abi: str, ok: bool) -> None:
    assert _runs_on_cpython_313(python_tag, abi) is ok


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_layer_is_exactly_the_lock(sam_build: Callable[[str], Path], architecture: str) -> None:
    layer = sam_build(architecture) / "DependenciesLayer" / "python"
    installed = _installed(layer)
    assert installed == _lock()
    assert not {"boto3", "botocore", "s3transfer"} & set(installed)
    assert not (layer / "boto3").exists()
    assert not (layer / "botocore").exists()
    # python-jose declares them; its cryptography backend never imports them (SECURITY.md).
    assert not UNUSED_BY_JOSE & set(installed)
    assert not [name for name in UNUSED_BY_JOSE if (layer / name).exists()]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_built_template(sam_build: Callable[[str], Path], architecture: str) -> None:
    build = sam_build(architecture)
    built = read_template(build / "template.yaml")
    layer = built["Resources"]["DependenciesLayer"]
    # sam build resolved BuildArchitecture from the parameter value it was given.
    assert layer["Metadata"]["BuildArchitecture"] == architecture
    assert layer["Properties"]["ContentUri"] == "DependenciesLayer"
    for function in FUNCTIONS:
        props = built["Resources"][function]["Properties"]
        assert props["CodeUri"] == function
        assert (build / function).is_dir()
        # function packages hold only our code (not the Makefile that built them): third-party
        # code comes from the layer
        top_level = {path.name for path in (build / function).iterdir()}
        assert top_level == {PACKAGES[function]}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_built_code_ships_unchecked_hash_bytecode(
    sam_build: Callable[[str], Path], architecture: str
) -> None:
    build = sam_build(architecture)
    roots = [build / "DependenciesLayer" / "python", *(build / function for function in FUNCTIONS)]
    result = subprocess.run(
        [PYTHON, "-I", str(BYTECODE_CHECK), json.dumps([str(root) for root in roots])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, _report(result)
    reports: dict[str, dict[str, Any]] = json.loads(result.stdout)
    for root in roots:
        report = reports[str(root)]
        assert report.pop("sources") > 0, root
        problems = {key: value for key, value in report.items() if value}
        assert not problems, f"{root.relative_to(build)}: {problems}"


def _modules(function_dir: Path) -> list[str]:
    modules = []
    for path in sorted(function_dir.rglob("*.py")):
        relative = path.relative_to(function_dir)
        if "__pycache__" in relative.parts or "tests" in relative.parts:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules.append(".".join(parts))
    return modules


def _deployed_environment(function: str) -> dict[str, str]:
    """The function's environment with the default samconfig.toml environment's overrides."""
    template = read_template(paths.TEMPLATE)
    config = tomllib.loads(paths.SAMCONFIG.read_text(encoding="utf-8"))
    overrides = parameter_pairs(config["default"]["global"]["parameters"]["parameter_overrides"])
    return deployed_environment(template, function, overrides)


def _import_check(
    function: str, layer: Path, function_dir: Path, tmp_path: Path
) -> tuple[dict[str, Any], list[str], str]:
    """Import a built function's modules and handler with only the layer beside it, as on Lambda.

    -B: nothing is written, as on Lambda's read-only /opt and /var/task. Returns the report, the
    function's modules and its handler.
    """
    handler = read_template(paths.TEMPLATE)["Resources"][function]["Properties"]["Handler"]
    modules = _modules(function_dir)
    spec = {
        "paths": [str(layer), str(function_dir)],
        "modules": modules,
        "handlers": [handler],
        "verify": function == "AuthorizerFunction",
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "LAMBDA_TASK_ROOT": str(function_dir),
        **_deployed_environment(function),
    }
    result = subprocess.run(
        [PYTHON, "-I", "-S", "-B", str(IMPORT_CHECK), json.dumps(spec)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, _report(result)
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["handlers"] == [handler]
    assert set(report["imported"]) == set(modules)
    return report, modules, handler


@pytest.mark.parametrize("function", FUNCTIONS)
def test_built_function_imports_with_only_the_layer(
    sam_build: Callable[[str], Path], function: str, tmp_path: Path
) -> None:
    if HOST_ARCH is None:
        pytest.skip(f"unknown host architecture {platform.machine()}")
    build = sam_build(HOST_ARCH)
    layer = build / "DependenciesLayer" / "python"
    function_dir = build / function
    report, modules, handler = _import_check(function, layer, function_dir, tmp_path)
    assert handler.rsplit(".", 1)[0] in modules
    if function == "AuthorizerFunction":
        assert "jwt_authorizer.handler" in modules
        # Without ecdsa, rsa and pyasn1 in the layer, python-jose still verifies RS and ES
        # signatures (its cryptography backend), and none of the three is ever imported.
        assert report["verified"] == ["ES256", "RS256"]
        assert "jose" in report["top_level_loaded"]
    assert not UNUSED_BY_JOSE & set(report["top_level_loaded"])
    # Nothing came from outside the layer, the function package and the standard library.
    stdlib = Path(PYTHON).resolve().parent.parent / "lib"
    allowed = (layer.resolve(), function_dir.resolve(), stdlib.resolve())
    outside = [
        file
        for file in report["files"]
        if not any(Path(file).resolve().is_relative_to(root) for root in allowed)
    ]
    assert not outside
    # boto3 is the runtime's, not the layer's: importing it at init would fail here and cost
    # cold-start time on Lambda (the authorizer loads it only for ssm: configurations).
    assert report["aws_sdk_loaded"] == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_built_function_runs_from_the_shipped_bytecode(
    sam_build: Callable[[str], Path], function: str, tmp_path: Path
) -> None:
    """Python uses the shipped pycs without reading or comparing the sources.

    A copy of the build whose every .py is replaced by code that raises, with mtimes unlike the
    build's (as after zipping and extraction), still imports: every module, the layer's and the
    function's, ran from its unchecked-hash pyc.
    """
    if HOST_ARCH is None:
        pytest.skip(f"unknown host architecture {platform.machine()}")
    build = sam_build(HOST_ARCH)
    layer = tmp_path / "opt" / "python"
    function_dir = tmp_path / "task"
    shutil.copytree(build / "DependenciesLayer" / "python", layer)
    shutil.copytree(build / function, function_dir)
    poisoned = 0
    for root in (layer, function_dir):
        for source in root.rglob("*.py"):
            source.write_text(f"raise ImportError('the source of {source.name} ran')\n")
            os.utime(source, (86400, 86400))
            poisoned += 1
    assert poisoned > 100
    report, _, _ = _import_check(function, layer, function_dir, tmp_path)
    loaded = [Path(file).resolve() for file in report["files"]]
    assert any(file.is_relative_to(layer.resolve()) for file in loaded)
    assert any(file.is_relative_to(function_dir.resolve()) for file in loaded)
