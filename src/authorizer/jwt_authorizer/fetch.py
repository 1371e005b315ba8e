"""Calls over HTTP: which URLs may be called, and the one transport that calls them.

HTTPS only (plain HTTP for loopback development servers), no redirects, no proxy settings from
the environment, connect and read timeouts, a deadline for the whole body and a size cap. Key
sets and discovery documents are fetched with GET (:meth:`HttpFetcher.get_json`); token
introspection posts a form (:meth:`HttpFetcher.post_form`) under the same rules.
``requests`` is imported on first use: a deployment with inline keys never pays for it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a form POST, whatever its status: ``document`` is the parsed JSON body, or
    None when the body is not JSON; ``size`` is the body's length in bytes."""

    status: int
    document: object
    size: int


class FormPoster(Protocol):
    """Posts one form and reads the answer (token introspection)."""

    def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        headers: Mapping[str, str],
        ca_bundle: str | None,
    ) -> Reply: ...


class HttpFetcher:
    """``requests`` with short timeouts, no redirects, a size cap and one session per process."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_response_bytes: int,
        user_agent: str = _USER_AGENT,
    ) -> None:
        self._user_agent = user_agent
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
                session.headers.update(
                    {"User-Agent": self._user_agent, "Accept": "application/json"}
                )
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
            body = self._read_body(response, url, deadline)
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise FetchError(f"response from {url} is not JSON") from err

    def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        headers: Mapping[str, str],
        ca_bundle: str | None,
    ) -> Reply:
        """POST ``form`` (``application/x-www-form-urlencoded``) and read the answer, any status.

        The same rules as :meth:`get_json`. Messages name the URL only: never the form (it
        holds a token) nor the headers (they may hold client credentials)."""
        if not is_fetchable_url(url):
            raise FetchError("refusing a non-https URL")
        session = self._get_session()
        deadline = time.monotonic() + self._connect + self._read
        try:
            response = session.post(
                url,
                data=dict(form),
                headers=dict(headers),
                timeout=(self._connect, self._read),
                verify=ca_bundle if ca_bundle else True,
                allow_redirects=False,
                stream=True,
            )
        except Exception as err:  # requests raises many types; all mean "unreachable"
            raise FetchError(f"{type(err).__name__} calling {url}") from err
        with response:
            body = self._read_body(response, url, deadline)
            status = response.status_code
        try:
            document: object = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            document = None
        return Reply(status=status, document=document, size=len(body))

    def _read_body(self, response: requests.Response, url: str, deadline: float) -> bytes:
        """The whole body, within the size cap and by ``deadline``."""
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
        return bytes(body)
