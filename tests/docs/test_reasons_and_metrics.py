"""The README's reason-code table and metric list match what the code raises and emits."""

from __future__ import annotations

import ast
import re

import pytest

from jwt_authorizer import errors
from tests.docs.markdown import README, code_spans, section, table_rows
from tests.docs.reference import source_text


def _error_classes() -> list[type[errors.AuthorizerError]]:
    found: list[type[errors.AuthorizerError]] = []
    pending = list(errors.AuthorizerError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ == errors.__name__ and "reason" in vars(cls):
            found.append(cls)
    return found


def _handler_reasons() -> set[str]:
    """Reason codes the handler logs itself (``reason="..."`` literals), e.g. internal_error."""
    tree = ast.parse(source_text("handler.py"))
    return {
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "reason"
        and isinstance(keyword.value, ast.Constant)
        and isinstance(keyword.value.value, str)
    }


def _reason_rows() -> dict[str, list[str]]:
    rows = table_rows(section(README.read_text(encoding="utf-8"), "reason-codes"))
    table: dict[str, list[str]] = {}
    for row in rows:
        spans = code_spans(row[0])
        if spans:
            assert spans[0] not in table, f"{spans[0]} appears twice in the reason table"
            table[spans[0]] = row
    return table


CODES = sorted((cls.reason, getattr(cls, "status", None)) for cls in _error_classes())


def test_every_error_class_is_found() -> None:
    reasons = {reason for reason, _ in CODES}
    assert {"missing_token", "insufficient_scope", "keys_unavailable", "config_error"} <= reasons
    assert len(reasons) >= 23


@pytest.mark.parametrize(("reason", "status"), CODES)
def test_reason_code_is_in_the_table_with_its_status(reason: str, status: int | None) -> None:
    rows = _reason_rows()
    assert reason in rows, f"{reason} is missing from the README reason-code table"
    status_cell = rows[reason][1]
    if reason == "config_error":  # the function fails to initialise
        assert "init" in status_cell.lower(), f"{reason}: say that init fails"
    else:
        assert re.match(rf"^\**{status}\b", status_cell), f"{reason}: status should be {status}"


def test_handler_only_reasons_are_documented() -> None:
    rows = _reason_rows()
    for reason in _handler_reasons():
        assert reason in rows, f"the handler logs reason {reason!r}; document it"


def test_table_has_no_stale_codes() -> None:
    known = {reason for reason, _ in CODES} | _handler_reasons()
    stale = set(_reason_rows()) - known
    assert not stale, f"the README lists reason codes the code never produces: {sorted(stale)}"


# --------------------------------------------------------------------------- metrics


def _metric_names() -> set[str]:
    """Names passed to count(...) / add_metric(name=...), f-strings reduced to their prefix."""
    names: set[str] = set()
    for module in ("observe.py", "handler.py"):
        tree = ast.parse(source_text(module))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            candidates: list[ast.expr] = []
            if node.func.attr == "count" and node.args:
                candidates.append(node.args[0])
            if node.func.attr == "add_metric":
                candidates += [k.value for k in node.keywords if k.arg == "name"]
            for value in candidates:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    names.add(value.value)
                elif isinstance(value, ast.JoinedStr):
                    first = value.values[0]
                    assert isinstance(first, ast.Constant)
                    assert isinstance(first.value, str)
                    names.add(first.value + "<code>")
    return names


METRICS = sorted(_metric_names())


def test_metric_names_are_found() -> None:
    assert {"Allowed", "Forbidden", "Unauthorized", "KeysUnavailable", "Reason_<code>"} <= set(
        METRICS
    )


@pytest.mark.parametrize("metric", METRICS)
def test_metric_is_documented(metric: str) -> None:
    observability = section(README.read_text(encoding="utf-8"), "metrics")
    assert f"`{metric}`" in observability, f"metric {metric} is not in the README metric table"


def test_alarm_advice_is_there() -> None:
    text = README.read_text(encoding="utf-8")
    assert "KeysUnavailable" in section(text, "metrics")
    assert re.search(r"Unauthorized.{0,120}(Lambda|function) error", text, re.S), (
        "say that raising Unauthorized counts as a Lambda error"
    )
