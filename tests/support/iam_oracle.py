"""An independent IAM evaluator for the tests: ``@cloud-copilot/iam-simulate`` (npm, pinned in
package.json/package-lock.json) behind a persistent Node subprocess, ``iam_oracle.mjs``.

``tools/devkit/iam.py`` is our own reading of IAM and shares our blind spots; this oracle is a
third party's. Each resource is evaluated as one ``execute-api:Invoke`` request by the IAM user
``arn:aws:iam::123456789012:user/caller`` with the policy as its only identity policy (same
account, no other policy types, no context keys), through ``runUnsafeSimulation`` after the
policy passed ``runSimulation``'s validation (see the header of ``iam_oracle.mjs`` for why).

What iam-simulate 0.1.173 does with a policy ``Resource`` pattern and a requested ARN (pinned by
``tests/security/test_iam_oracle.py``):

* The ARN is split on ``:``. Partition, service, region and account are matched field by field,
  each with a **case-insensitive** regular expression built from the pattern's field *without
  escaping* (``?`` -> ``.``, ``*`` -> ``.*?``): a ``*`` there never crosses ``:``, a ``.`` is a
  regex wildcard and a ``(`` is a syntax error. The leading ``arn`` field is never compared.
* A pattern with fewer than six fields is padded with ``*`` fields, so ``arn:aws:execute-api:*``,
  ``arn:aws:execute-api:eu-*1`` and even ``foo`` or ``GET/*`` match every ARN.
* The resource part (everything after the fifth ``:``) is split after its first ``/`` or ``:``:
  the head (for execute-api, the API id and its ``/``) is compared **literally** with
  ``startsWith`` -- a ``*`` or ``?`` there is no wildcard -- and the rest is a case-sensitive
  anchored glob: ``*`` is any run of characters including ``/`` and the empty run, ``?`` exactly
  one character. Both are JavaScript regex "." without the ``s`` and ``u`` flags: they never
  match a line terminator (``\\n``, ``\\r``, U+2028, U+2029), and ``?`` matches one UTF-16 code
  unit, half of a character beyond U+FFFF.
* Policy variables: ``${*}``, ``${?}`` and ``${$}`` stand for a literal ``*``, ``?`` and ``$``;
  any other ``${name}`` is looked up in the request context (we pass none, and iam-simulate does
  not fill ``aws:username`` from the principal), so it never matches -- not even the same text --
  unless it has a default, ``${name, 'default'}``. A ``$`` not followed by ``{`` is literal.
  In the requested ARN, ``$`` and ``${...}`` are plain text.
* A ``*`` in the **requested** ARN makes iam-simulate treat the request as a pattern: the request
  matches an Allow whenever the two patterns overlap (``runSimulation`` also switches to its
  "wildcard" mode). A ``?`` in the requested ARN is literal.

API Gateway evaluates the concrete ``methodArn``/``routeArn`` literally, so ``evaluate`` makes the
request side literal: it maps every ``*`` and ``?`` in a requested ARN to a stand-in character
(``STAR_STANDIN``, ``QUESTION_STANDIN``: private-use code points, which have no case mapping and
are not regex metacharacters). This is exact when the policy's patterns contain neither stand-in
and every ``*``/``?`` in them is a wildcard: a wildcard matches ``*`` exactly when it matches the
stand-in (it matches any character), and a literal pattern character equals neither ``*`` (there
is no literal ``*`` in the pattern) nor the stand-in (it does not occur in the pattern), not
even ignoring case (neither has case variants), so every character comparison, and with it the
answer, is unchanged. A ``${...}`` form can put a literal
``*`` or ``?`` in a pattern (``${*}``, ``${?}``, a default value), so a policy with ``${`` is
refused whenever a requested ARN contains ``*`` or ``?``; a policy with no ``${`` has no literal
``*``/``?``. ``evaluate`` also refuses the inputs on which iam-simulate's answer is known not to
be IAM's (short or non-ARN patterns, regex metacharacters in the first five fields, a wildcard or
``$`` in the API-id head, line terminators in a requested ARN, characters beyond U+FFFF with a
``?`` in the policy): ``OutsideOracleDomain``. ``evaluate_raw`` sends anything as it is,
for the tests that pin those behaviours.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal, Self

__all__ = [
    "QUESTION_STANDIN",
    "RESULTS",
    "STAR_STANDIN",
    "IamOracle",
    "IamOracleError",
    "OutsideOracleDomain",
    "literal_request",
    "resource_patterns",
]

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SCRIPT: Final = Path(__file__).with_name("iam_oracle.mjs")
PACKAGE: Final = REPO_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json"
ACTION: Final = "execute-api:Invoke"

STAR_STANDIN: Final = "\ue000"
QUESTION_STANDIN: Final = "\ue001"
_LITERAL: Final = str.maketrans({"*": STAR_STANDIN, "?": QUESTION_STANDIN})
_STANDINS: Final = frozenset({STAR_STANDIN, QUESTION_STANDIN})
# JavaScript's regex "." (no "s" flag): what iam-simulate's * and ? cannot match.
_LINE_TERMINATORS: Final = frozenset("\n\r\u2028\u2029")
# Characters iam-simulate would read as regex syntax in partition/service/region/account.
_REGEX_SYNTAX: Final = frozenset(".+^$()[]{}|\\")

RESULTS: Final = frozenset({"Allowed", "ExplicitlyDenied", "ImplicitlyDenied"})
Engine = Literal["unsafe", "validated"]


class IamOracleError(RuntimeError):
    """The oracle process failed, or refused the request (e.g. an invalid policy)."""

    def __init__(self, message: str, detail: object = None) -> None:
        super().__init__(message if detail is None else f"{message}: {detail}")
        self.detail = detail


class OutsideOracleDomain(ValueError):
    """The input is one on which iam-simulate's answer is not known to be IAM's (see module)."""


def literal_request(arn: str) -> str:
    """The requested ARN as iam-simulate must see it to read it literally."""
    return arn.translate(_LITERAL)


def resource_patterns(policy: Mapping[str, Any]) -> list[str]:
    """Every string in a ``Resource``/``NotResource`` of the policy (malformed parts skipped:
    the oracle's policy validation reports them)."""
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    patterns: list[str] = []
    for statement in statements:
        if not isinstance(statement, Mapping):
            continue
        for key in ("Resource", "NotResource"):
            value = statement.get(key)
            values = value if isinstance(value, list) else [value]
            patterns.extend(v for v in values if isinstance(v, str))
    return patterns


def _api_id_head(resource_part: str) -> str:
    """iam-simulate's "product" segment: up to and including the first ``/`` or ``:``."""
    cuts = [i for i in (resource_part.find("/"), resource_part.find(":")) if i >= 0]
    return resource_part[: min(cuts) + 1] if cuts else ""


def _check_pattern(pattern: str, *, literal_wildcards_requested: bool) -> None:
    if _STANDINS & set(pattern):
        raise OutsideOracleDomain(f"policy pattern contains a stand-in character: {pattern!r}")
    if literal_wildcards_requested and "${" in pattern:
        raise OutsideOracleDomain(
            f"policy pattern {pattern!r} has a ${{...}} form (maybe a literal * or ?) and a "
            "requested ARN contains * or ?: the stand-in mapping would not be exact"
        )
    if pattern.strip("*") == "":
        return  # every resource, in IAM and in iam-simulate ("" fails policy validation)
    fields = pattern.split(":", 5)
    if len(fields) < 6 or fields[0] != "arn":
        raise OutsideOracleDomain(
            f"policy pattern {pattern!r} is not a full ARN (iam-simulate pads missing fields "
            "with * and never compares the leading 'arn')"
        )
    if any(_REGEX_SYNTAX & set(field) for field in fields[1:5]):
        raise OutsideOracleDomain(
            f"policy pattern {pattern!r} has regex syntax in its first fields, where "
            "iam-simulate does not escape it"
        )
    head = _api_id_head(fields[5])
    if set(head) & {"*", "?", "$"}:
        raise OutsideOracleDomain(
            f"policy pattern {pattern!r} has a wildcard or variable in the API id "
            f"({head!r}), which iam-simulate compares literally"
        )


def _check_request(arn: str) -> None:
    if _STANDINS & set(arn):
        raise OutsideOracleDomain(f"requested ARN contains a stand-in character: {arn!r}")
    if _LINE_TERMINATORS & set(arn):
        raise OutsideOracleDomain(
            f"requested ARN {arn!r} contains a line terminator, which iam-simulate's * and ? "
            "never match"
        )
    fields = arn.split(":", 5)
    if len(fields) < 6 or fields[0] != "arn":
        raise OutsideOracleDomain(f"requested resource is not a full ARN: {arn!r}")


class IamOracle:
    """One ``node iam_oracle.mjs`` process; ``evaluate`` sends one JSON line per call."""

    def __init__(self, *, node: str | None = None) -> None:
        executable = node or shutil.which("node")
        if executable is None:
            raise IamOracleError("node (Node.js 20+) is not on PATH: the IAM oracle needs it")
        if not PACKAGE.is_file():
            raise IamOracleError(
                f"{PACKAGE.relative_to(REPO_ROOT)} is missing: run `make node_modules/.installed`"
            )
        # Closed in close(): the process writes to it for as long as it runs.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [executable, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=REPO_ROOT,
        )
        self._next_id = 0
        self.evaluations = 0
        hello = self._receive()
        if hello.get("ready") is not True:
            self.close()
            raise IamOracleError("unexpected first line from the oracle", hello)
        self.version: str = str(hello.get("iamSimulate"))
        self.node_version: str = str(hello.get("node"))

    # ------------------------------------------------------------------ public

    def evaluate(self, policy: Mapping[str, Any], resources: Sequence[str]) -> list[str]:
        """The decision for each requested ARN, read literally as API Gateway reads it:
        ``"Allowed"``, ``"ExplicitlyDenied"`` or ``"ImplicitlyDenied"``.

        Raises ``OutsideOracleDomain`` for inputs on which iam-simulate is not a faithful oracle
        and ``IamOracleError`` when it refuses the policy.
        """
        if isinstance(resources, str):
            raise TypeError("resources must be a sequence of ARNs, not one string")
        wildcards_requested = any("*" in arn or "?" in arn for arn in resources)
        for arn in resources:
            _check_request(arn)
        patterns = resource_patterns(policy)
        for pattern in patterns:
            _check_pattern(pattern, literal_wildcards_requested=wildcards_requested)
        if any("?" in p for p in patterns) and any(
            ord(ch) > 0xFFFF for arn in resources for ch in arn
        ):
            raise OutsideOracleDomain(
                "a requested ARN has a character beyond U+FFFF and the policy a '?': "
                "iam-simulate's ? matches one UTF-16 code unit, not one character"
            )
        return self.evaluate_raw(policy, [literal_request(arn) for arn in resources])

    def evaluate_raw(
        self,
        policy: Mapping[str, Any],
        resources: Sequence[str],
        *,
        engine: Engine = "unsafe",
        action: str = ACTION,
    ) -> list[str]:
        """iam-simulate's answer for the ARNs exactly as given (a ``*`` in them is a wildcard),
        with no domain checks. ``engine="validated"`` uses ``runSimulation`` for each ARN and
        reports its refusals as ``"Error:<message>"``."""
        if isinstance(resources, str):
            raise TypeError("resources must be a sequence of ARNs, not one string")
        self._next_id += 1
        request_id = self._next_id
        response = self._exchange(
            {
                "id": request_id,
                "policy": dict(policy),
                "resources": list(resources),
                "action": action,
                "engine": engine,
            }
        )
        if response.get("id") != request_id:
            raise IamOracleError(f"answer for request {response.get('id')}, not {request_id}")
        if "error" in response:
            raise IamOracleError("iam-simulate refused the request", response["error"])
        results = response.get("results")
        if not isinstance(results, list) or len(results) != len(resources):
            raise IamOracleError("malformed answer", response)
        checked = [str(r) for r in results]
        unknown = [r for r in checked if r not in RESULTS and not r.startswith("Error:")]
        if unknown:
            raise IamOracleError("unknown decisions", unknown)
        self.evaluations += len(checked)
        return checked

    def close(self) -> None:
        """Stop the process (closing its stdin ends it; killed if it lingers)."""
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _exchange(self, message: Mapping[str, Any]) -> dict[str, Any]:
        stdin = self._process.stdin
        assert stdin is not None
        if stdin.closed:
            raise IamOracleError("the oracle is closed")
        try:
            stdin.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
            stdin.flush()
        except BrokenPipeError as err:
            raise IamOracleError("the oracle process is gone", self._stderr_tail()) from err
        return self._receive()

    def _receive(self) -> dict[str, Any]:
        stdout = self._process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            code = self._process.poll()
            raise IamOracleError(f"the oracle process ended (exit {code})", self._stderr_tail())
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise IamOracleError("the oracle wrote a non-object line", answer)
        return answer

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-4000:].decode("utf-8", "replace")
