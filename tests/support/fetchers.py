"""Key fetchers for tests: the :class:`jwt_authorizer.fetch.Fetcher` seam without a network.

Both record every URL they are asked for. A fetch runs in a worker thread that swallows every
exception (a failed fetch is a paced retry, never a crash), so a fetcher cannot fail a test by
raising: tests assert on ``calls`` instead. Real HTTP(S) servers on 127.0.0.1 are in
:mod:`tests.support.servers`.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from dataclasses import dataclass, field

from jwt_authorizer.fetch import FetchError


@dataclass
class NoNetworkFetcher:
    """Never fetches: records the URL and raises :class:`FetchError` (the authorizer then
    fails closed). Assert ``calls == []`` where nothing may be fetched."""

    calls: list[str] = field(default_factory=list)

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        self.calls.append(url)
        raise FetchError("network access is disabled in this test")


@dataclass
class ServingFetcher:
    """Serves the documents of ``documents`` by exact URL (a test may change them between
    fetches: a rotation, an outage); any other URL fails like an unreachable server."""

    documents: MutableMapping[str, object] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        with self._lock:
            self.calls.append(url)
            if url not in self.documents:
                raise FetchError("not a configured URL")
            return self.documents[url]
