"""Commands the documentation tells readers to run exist, and documented outputs are current."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from devkit.cli import main
from devkit.commands import command_modules
from tests.docs.markdown import README, ROOT, Block, all_blocks, documents, section

MAKEFILE = ROOT / "Makefile"
REQUIRED_TARGETS = ("demo", "test", "bench", "fuzz", "serve")


def _make_targets() -> set[str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][A-Za-z0-9_-]*)\s*:(?!=)", text, re.M))


def _mentioned(pattern: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in documents():
        for match in re.finditer(pattern, path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), []).append(str(path.relative_to(ROOT)))
    return found


def test_readme_starts_with_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.S)[:2]
    assert [block.strip() for block in first_blocks] == ["make demo", "make test"]


def test_readme_names_every_required_target() -> None:
    text = README.read_text(encoding="utf-8")
    for target in REQUIRED_TARGETS:
        assert re.search(rf"\bmake {target}\b", text), f"README does not mention make {target}"


@pytest.mark.parametrize("target", sorted(_mentioned(r"`make ([a-z][a-z-]*)")))
def test_every_make_target_in_the_docs_exists(target: str) -> None:
    assert target in _make_targets(), f"`make {target}` is documented but the Makefile lacks it"


@pytest.mark.parametrize("target", REQUIRED_TARGETS)
def test_required_targets_exist(target: str) -> None:
    assert target in _make_targets(), f"Makefile has no {target} target"


@pytest.mark.parametrize("module", sorted(_mentioned(r"python -m (devkit(?:\.[a-z_]+)?)")))
def test_every_devkit_module_in_the_docs_exists(module: str) -> None:
    parts = module.split(".")
    base = ROOT / "tools" / Path(*parts)
    assert (base.with_suffix(".py")).is_file() or (base / "__main__.py").is_file(), (
        f"`python -m {module}` is documented but does not exist"
    )


@pytest.mark.parametrize("command", sorted(_mentioned(r"python -m devkit ([a-z][a-z-]*)")))
def test_every_devkit_command_in_the_docs_exists(command: str) -> None:
    assert command in {module.NAME for module in command_modules()}, (
        f"`python -m devkit {command}` is documented but there is no such command"
    )


def test_demo_transcript_is_filled_in() -> None:
    transcript = section(README.read_text(encoding="utf-8"), "demo-transcript")
    assert "```" in transcript, "paste the output of make demo between the markers"
    for status in ("401", "403", "200"):
        assert status in transcript


def _varying(text: str) -> str:
    """The demo's output without what changes between runs: ports, ids, durations."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]*…?", "<id>", text)
    text = re.sub(r"o-<id>|o-[0-9a-f]{1,8}…", "o-<id>", text)
    return re.sub(r"in \d+\.\d s", "in <t> s", text)


def test_demo_transcript_is_the_demo_output() -> None:
    """The README's transcript is what ``make demo`` prints today (ports, ids and times aside)."""
    transcript = section(README.read_text(encoding="utf-8"), "demo-transcript")
    documented = transcript.split("$ make demo\n", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["demo"]) == 0
    assert _varying(out.getvalue()) == _varying(documented)


def test_explain_example_is_the_output() -> None:
    """The README's explain example is what the two commands print today, exactly."""
    block = section(README.read_text(encoding="utf-8"), "explain-example")
    command, documented = block.split("```console\n", 1)[1].split("```", 1)[0].split("\n", 1)
    mint, judge = (shlex.split(part) for part in command.removeprefix("$ ").split(" | "))
    assert mint[:3] == judge[:3] == ["python", "-m", "devkit"]
    token = io.StringIO()
    with contextlib.redirect_stdout(token), contextlib.redirect_stderr(io.StringIO()):
        assert main(mint[3:]) == 0
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setattr("sys.stdin", io.StringIO(token.getvalue()))
        assert main(judge[3:]) == 1
    assert out.getvalue() == documented


def test_make_help_lists_every_target() -> None:
    """`make help` prints the targets with a ``## `` description: every target has one."""
    text = MAKEFILE.read_text(encoding="utf-8")
    described = set(re.findall(r"^([a-z][a-z-]*):.*## ", text, re.M))
    internal = {"fixtures"} if "fixtures" not in described else set()
    assert _make_targets() - described - internal == set()
    assert {"lint", "typecheck", "pytest", "clean", "explain", "check", "discover"} <= described


def test_make_clean_removes_what_the_targets_create() -> None:
    recipe = MAKEFILE.read_text(encoding="utf-8").split("\nclean:", 1)[1].split("\n\n", 1)[0]
    for created in ("$(VENV)", ".venv-sam", ".demo", ".aws-sam", ".coverage"):
        assert created in recipe, f"make clean leaves {created}"


def test_documents_link_to_each_other() -> None:
    text = README.read_text(encoding="utf-8")
    for path in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{path.name}" in text, f"README does not link docs/{path.name}"
    assert "SECURITY.md" in text


def test_relative_links_resolve() -> None:
    for path in documents():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):
                continue
            if target == "SECURITY.md" or target.endswith("/SECURITY.md"):
                continue  # written by someone else, may land later
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


COSTMODEL_BLOCKS = [
    block
    for block in all_blocks()
    if block.info == "console" and "devkit costmodel" in block.text.splitlines()[0]
]


def test_scaling_doc_shows_costmodel_runs() -> None:
    assert len(COSTMODEL_BLOCKS) >= 2


@pytest.mark.parametrize("block", COSTMODEL_BLOCKS, ids=[b.where for b in COSTMODEL_BLOCKS])
def test_costmodel_output_in_the_docs_is_current(block: Block) -> None:
    lines = block.text.splitlines()
    command = lines[0].removeprefix("$ ")
    args = shlex.split(command)
    args = args[args.index("devkit") + 1 :]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    documented = "\n".join(lines[1:]).strip()
    assert out.getvalue().strip() == documented, (
        f"{block.where}: rerun `{command}` and paste the output"
    )


TEMPLATE = ROOT / "template.yaml"
# Template parameters and outputs the documentation tells readers to set or read.
DOCUMENTED_TEMPLATE_NAMES = (
    "Architecture",
    "IssuerProfile",
    "Issuer",
    "Audience",
    "DiscoveryUrl",
    "JwksUri",
    "Algorithms",
    "AllowedClientIds",
    "Routes",
    "AuthConfig",
    "AuthConfigSsmParameter",
    "ResponseMode",
    "AuthorizerCacheTtl",
    "IntrospectionSecret",
    "IntrospectionAuthorizerCacheTtl",
    "LogLevel",
    "AlarmTopicArn",
    "RestApiUrl",
    "HttpApiUrl",
    "AuthorizerFunctionArn",
)


def _template_section_keys(section_name: str) -> set[str]:
    keys: set[str] = set()
    inside = False
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        if re.match(r"^[A-Za-z]", line):
            inside = line.startswith(f"{section_name}:")
            continue
        match = re.match(r"^  ([A-Za-z0-9]+):", line)
        if inside and match:
            keys.add(match.group(1))
    return keys


@pytest.mark.parametrize("name", DOCUMENTED_TEMPLATE_NAMES)
def test_documented_template_names_exist(name: str) -> None:
    known = _template_section_keys("Parameters") | _template_section_keys("Outputs")
    assert name in known, f"the docs name {name}, which template.yaml does not define"
    pattern = re.compile(rf"\b{name}\b")
    assert any(pattern.search(path.read_text(encoding="utf-8")) for path in documents())
