"""Capturing what a function prints: its logs (Lambda functions log to stdout).

Powertools' Logger binds the stream it sees when the first logger of a service is created and
keeps it for the life of the process, so redirecting each invocation to a fresh buffer would
leave later invocations writing into a dead buffer. One long-lived :class:`LogSink` stands in
for stdout during every init and invocation, retargeted each time, so every invocation's logs
are captured, whoever created the logger.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import Final, TextIO, cast

__all__ = ["LogSink", "Tee", "captured_logs"]


class LogSink(io.TextIOBase):
    """A stdout stand-in that forwards to a switchable target."""

    def __init__(self, target: TextIO | None = None) -> None:
        super().__init__()
        #: None: whatever ``sys.stdout`` is at the time, as if there were no sink.
        self.target: TextIO | None = target

    def _stream(self) -> TextIO:
        if self.target is not None:
            return self.target
        current = sys.stdout
        return current if current is not self else (sys.__stderr__ or sys.stderr)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._stream().write(text)
        return len(text)

    def flush(self) -> None:
        stream = self._stream()
        if not stream.closed:  # e.g. a demo's log file, closed while a logger still holds us
            stream.flush()


class Tee(io.TextIOBase):
    """Write to several streams (collect the logs and pass them on as they happen)."""

    def __init__(self, *streams: TextIO) -> None:
        super().__init__()
        self._streams = streams

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            if not stream.closed:
                stream.flush()


_SINK: Final = LogSink()


@contextlib.contextmanager
def captured_logs(target: TextIO | None = None) -> Iterator[io.StringIO]:
    """Collect stdout into the yielded buffer, passing it on to ``target`` as it is written.

    ``target`` None: to whatever ``sys.stdout`` was before (a demo's log file, a terminal,
    pytest's capture), so capturing changes nothing for the reader.
    """
    buffer = io.StringIO()
    onward = target if target is not None else sys.stdout
    if onward is _SINK:  # nested: the outer capture's target keeps receiving
        onward = _SINK.target or sys.__stderr__ or sys.stderr
    previous = _SINK.target
    _SINK.target = cast(TextIO, Tee(buffer, onward))
    try:
        with contextlib.redirect_stdout(_SINK):
            yield buffer
    finally:
        _SINK.target = previous
