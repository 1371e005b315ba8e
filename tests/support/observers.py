"""Observers that record what the authorizer reports, and helpers to read captured log output.

:class:`RecordingObserver` is the real :class:`jwt_authorizer.observe.Observer` (its Powertools
log formatting and key-event logic included) writing its lines to a :class:`Utf8Sink` instead of
stdout, with metrics counted in memory instead of printed as EMF: fast enough for fuzzing and
floods, faithful enough to check that every denial is logged once and that no line carries token
material. Thread-safe: concurrency tests call it from many threads.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from jwt_authorizer.observe import Observer

_services = itertools.count(1)


class Utf8Sink(io.TextIOBase):
    """A log stream that behaves like Lambda's stdout (UTF-8, strict) and keeps every line
    (unless ``keep`` is false: floods and memory measurements).

    A line that cannot be encoded is kept in ``failures`` instead (the real stream would raise
    and the logging module would print a traceback to stderr in place of the line).
    """

    def __init__(self, *, keep: bool = True) -> None:
        super().__init__()
        self.keep = keep
        self.lines: list[str] = []
        self.failures: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            self.failures.append(f"{type(err).__name__} at {err.start}")
            return len(text)
        if self.keep:
            self.lines.extend(line for line in text.splitlines() if line)
        return len(text)


class RecordingObserver(Observer):
    """Every metric in ``counts`` (what would be emitted), every denial and allow with its
    fields, every key fetch and applied empty key set; log lines in ``sink``.

    ``count`` is what :class:`Observer` calls for every metric, including from its own
    ``key_fetch``/``stale_keys``/``key_set_empty`` handlers, so ``counts`` is exact. With
    ``keep=False`` nothing per request is kept (no lines, denials or allows; the counts, the
    fetches and each thread's last reason still are): for floods and memory measurements.
    """

    def __init__(self, *, keep: bool = True) -> None:
        service = f"jwt-authorizer-recorded-{next(_services)}"
        super().__init__(service=service, namespace="RecordedTests")
        logging.getLogger(service).propagate = False  # thousands of records: keep them here
        self.keep = keep
        self.sink = Utf8Sink(keep=keep)
        handler = self.logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(self.sink)
        self.counts: Counter[str] = Counter()
        self.denials: list[dict[str, Any]] = []
        self.allows: list[dict[str, Any]] = []
        #: (ok, trigger, detail) of every key-set fetch, in order.
        self.fetches: list[tuple[bool, str, str]] = []
        #: (source, skipped reasons) of every well-formed key set without a usable key.
        self.empty_sets: list[tuple[str, dict[str, int]]] = []
        self._record = threading.Lock()
        self._local = threading.local()

    @property
    def unloggable(self) -> list[str]:
        """Lines that could not be written as UTF-8 (they would vanish from the real logs)."""
        return self.sink.failures

    @property
    def last_reason(self) -> str | None:
        """The reason of the latest denial made by the calling thread."""
        reason: str | None = getattr(self._local, "reason", None)
        return reason

    def logged(self, message: str) -> list[dict[str, Any]]:
        """The log lines (parsed) whose ``message`` is ``message``, in order."""
        return [
            line
            for line in json_lines("\n".join(self.sink.lines))
            if line.get("message") == message
        ]

    def reset(self) -> None:
        with self._record:
            self.counts.clear()
            self.denials.clear()
            self.allows.clear()
            self.fetches.clear()
            self.empty_sets.clear()
            self.sink.lines.clear()
            self.sink.failures.clear()

    # -- metrics: in memory

    def count(self, name: str, value: float = 1) -> None:
        with self._record:
            self.counts[name] += int(value)

    def latency(self, milliseconds: float) -> None:
        return None

    def flush(self) -> None:
        return None

    # -- outcomes and key events: recorded, then logged by the real observer

    def denied(self, *, level: int, reason: str, **fields: Any) -> None:
        if self.keep:
            with self._record:
                self.denials.append({"reason": reason, **fields})
        self._local.reason = reason
        super().denied(level=level, reason=reason, **fields)

    def allowed(self, **fields: Any) -> None:
        if self.keep:
            with self._record:
                self.allows.append(fields)
        super().allowed(**fields)

    def key_fetch(self, source: str, *, ok: bool, trigger: str, detail: str) -> None:
        with self._record:
            self.fetches.append((ok, trigger, detail))
        super().key_fetch(source, ok=ok, trigger=trigger, detail=detail)

    def key_set_empty(self, source: str, *, skipped: Mapping[str, int]) -> None:
        with self._record:
            self.empty_sets.append((source, dict(skipped)))
        super().key_set_empty(source, skipped=skipped)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every JSON object line in captured output (other lines are ignored)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def emitted_metrics(lines: Sequence[Mapping[str, Any]]) -> set[str]:
    """The names of the EMF metrics in ``lines`` (from :func:`json_lines`)."""
    names: set[str] = set()
    for line in lines:
        aws = line.get("_aws")
        if isinstance(aws, dict):
            for directive in aws.get("CloudWatchMetrics", []):
                names.update(metric["Name"] for metric in directive.get("Metrics", []))
    return names


def metrics_line(text: str) -> dict[str, Any]:
    """The one EMF line of captured output (what :meth:`Observer.flush` printed)."""
    (line,) = [line for line in json_lines(text) if "_aws" in line]
    return line
