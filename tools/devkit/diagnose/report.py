"""How the diagnoses print: labelled lines, values shown safely, times against a clock.

Values from a token are shown the way the function logs them (``errors.fact``: truncated,
control characters escaped); a token itself is never shown, only its length and the
``token_hash`` the function's log lines carry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from jwt_authorizer.errors import fact

__all__ = ["LABEL_WIDTH", "Report", "age", "shown", "when"]

LABEL_WIDTH: Final = 14


def shown(value: object) -> str:
    """A value for a report: strings quoted, lists bracketed, all bounded and escaped."""
    safe = fact(value)
    if isinstance(safe, list):
        return "[" + ", ".join(shown(item) for item in safe) + "]"
    if isinstance(safe, str):
        return repr(safe)
    if safe is None:
        return "(absent)"
    return json.dumps(safe)


def when(epoch: float) -> str:
    """``2026-01-01T00:00:00Z``."""
    try:
        moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def age(seconds: float) -> str:
    """``1h02m03s``, ``45s``: a duration, without sign."""
    total = int(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass
class Report:
    """Lines of ``label  text``; continuation lines are indented under the text."""

    lines: list[str] = field(default_factory=list)

    def add(self, label: str, text: str = "", *more: str) -> None:
        self.lines.append(f"{label:<{LABEL_WIDTH}}{text}".rstrip())
        self.more(*more)

    def more(self, *texts: str) -> None:
        for text in texts:
            self.lines.append(f"{'':<{LABEL_WIDTH}}{text}".rstrip())

    def blank(self) -> None:
        self.lines.append("")

    def extend(self, lines: Iterable[str]) -> None:
        self.lines.extend(lines)

    def text(self) -> str:
        return "\n".join(self.lines)
