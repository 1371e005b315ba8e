"""Key fetching over HTTP: which URLs may be fetched, and the one transport that fetches them.

HTTPS only (plain HTTP for loopback development servers), no redirects, no proxy settings from
the environment, connect and read timeouts, a deadline for the whole document and a size cap.
``requests`` is imported on first use: a deployment with inline keys never pays for it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests

_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_USER_AGENT: Final = "apigw-jwt-authorizer/0.1 (+key fetch)"


def is_fetchable_url(url: str) -> bool:
    """Keys travel over HTTPS only; plain HTTP is accepted for loopback development servers.

    Never raises: a URL from the network that does not parse (``https://[::1/``) is refused."""
    try:
        parsed = urlsplit(url)
        hostname = parsed.hostname
    except ValueError:
        return False
    if not hostname or parsed.username or parsed.password:
        return False
    if parsed.scheme == "https":
        return True
    return parsed.scheme == "http" and hostname in _LOOPBACK_HOSTS


def deadline_in(seconds: float) -> float:
    """An absolute deadline ``seconds`` from now, for the key stages' ``deadline`` arguments.

    Deadlines are on the real monotonic clock (what ``threading`` waits on), never on the key
    cache's injectable clock, which only decides ages (TTL, cooldowns, stale limit).
    """
    return time.monotonic() + seconds


class FetchError(Exception):
    """A key-set or discovery fetch failed; the message is safe to log (no secrets)."""


class Fetcher(Protocol):
    """Fetches one JSON document. The seam tests replace with real loopback servers."""

    def get_json(self, url: str, *, ca_bundle: str | None) -> object: ...


class HttpFetcher:
    """``requests`` with short timeouts, no redirects, a size cap and one session per process."""

    def __init__(
        self, *, connect_timeout: float, read_timeout: float, max_response_bytes: int
    ) -> None:
        self._connect = connect_timeout
        self._read = read_timeout
        self._max_bytes = max_response_bytes
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def _get_session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests

                session = requests.Session()
                session.headers.update({"User-Agent": _USER_AGENT, "Accept": "application/json"})
                session.trust_env = False
                self._session = session
            return self._session

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        if not is_fetchable_url(url):
            raise FetchError("refusing a non-https URL")
        session = self._get_session()
        deadline = time.monotonic() + self._connect + self._read
        try:
            response = session.get(
                url,
                timeout=(self._connect, self._read),
                verify=ca_bundle if ca_bundle else True,
                allow_redirects=False,
                stream=True,
            )
        except Exception as err:  # requests raises many types; all mean "unreachable"
            raise FetchError(f"{type(err).__name__} fetching {url}") from err
        with response:
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} from {url}")
            body = bytearray()
            try:
                while True:
                    if time.monotonic() > deadline:
                        raise FetchError(f"response from {url} took too long")
                    # read1: whatever one socket read brings (decompressed), so a body trickled
                    # byte by byte meets the deadline check between reads. iter_content/read(n)
                    # would block until n bytes arrived, each read within the timeout.
                    chunk = response.raw.read1(16384, decode_content=True)
                    if not chunk:
                        break
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise FetchError(f"response from {url} exceeds {self._max_bytes} bytes")
            except FetchError:
                raise
            except Exception as err:
                raise FetchError(f"{type(err).__name__} reading {url}") from err
        try:
            return json.loads(bytes(body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise FetchError(f"response from {url} is not JSON") from err
