"""Calls over HTTP: which URLs may be called, and the one transport that calls them.

HTTPS only (plain HTTP for loopback development servers), no redirects, no proxy settings from
the environment, connect and read timeouts, a deadline for the whole body and a size cap. Key
sets and discovery documents are fetched with GET (:meth:`HttpFetcher.get_json`); token
introspection posts a form (:meth:`HttpFetcher.post_form`) under the same rules.
``requests`` is imported on first use: a deployment with inline keys never pays for it.

:class:`EarlyFetches` starts the key documents of a configuration downloading at the very start
of init, before the configuration is validated or anything heavy is imported, so that the
identity provider answers while the rest of the function loads. Its results are only a head
start: the key cache asks for its documents as always and is handed what the early fetch got
(same transport rules), so every check on them still applies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests

_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_USER_AGENT: Final = "apigw-jwt-authorizer/0.1 (+key fetch)"
#: The defaults of ``keys.connect_timeout_seconds``, ``keys.read_timeout_seconds`` and
#: ``keys.max_response_bytes`` (:class:`keys.KeySettings` uses them too).
DEFAULT_CONNECT_TIMEOUT: Final = 1.0
DEFAULT_READ_TIMEOUT: Final = 2.0
DEFAULT_MAX_RESPONSE_BYTES: Final = 512 * 1024


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


class Sessions:
    """The process's ``requests`` session: imported and created on first use, shared by every
    fetch, and replaced by :meth:`reset` (a SnapStart restore: pooled sockets are dead)."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests

                session = requests.Session()
                session.headers.update({"User-Agent": _USER_AGENT, "Accept": "application/json"})
                session.trust_env = False
                self._session = session
            return self._session

    def reset(self) -> None:
        """Close the session and its pooled connections; the next fetch opens a new one."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()


class HttpFetcher:
    """``requests`` with short timeouts, no redirects, a size cap and one session per process.

    ``early``: documents an :class:`EarlyFetches` is already downloading are taken from it (once
    each) instead of being requested a second time; the session is then shared with it."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_response_bytes: int,
        sessions: Sessions | None = None,
        early: EarlyFetches | None = None,
    ) -> None:
        self._connect = connect_timeout
        self._read = read_timeout
        self._max_bytes = max_response_bytes
        self._early = early
        if sessions is None:
            sessions = early.sessions if early is not None else Sessions()
        self.sessions = sessions

    def get_json(self, url: str, *, ca_bundle: str | None) -> object:
        if self._early is not None:
            taken = self._early.take(url, ca_bundle, wait=self._connect + self._read)
            if taken is not _NOT_PLANNED:
                return taken
        with self._open("GET", url, ca_bundle=ca_bundle, doing="fetching") as (response, deadline):
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
        with self._open(
            "POST",
            url,
            ca_bundle=ca_bundle,
            doing="calling",
            data=dict(form),
            headers=dict(headers),
        ) as (response, deadline):
            body = self._read_body(response, url, deadline)
            status = response.status_code
        try:
            document: object = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            document = None
        return Reply(status=status, document=document, size=len(body))

    @contextmanager
    def _open(
        self, method: str, url: str, *, ca_bundle: str | None, doing: str, **send: Any
    ) -> Iterator[tuple[requests.Response, float]]:
        """One request under the fetch rules: https only (loopback excepted), no redirects, the
        connect and read timeouts; yields the streamed response and when its body must be read
        by (``doing`` names the request in the error message, never its data)."""
        if not is_fetchable_url(url):
            raise FetchError("refusing a non-https URL")
        session = self.sessions.get()
        deadline = time.monotonic() + self._connect + self._read
        try:
            response = session.request(
                method,
                url,
                timeout=(self._connect, self._read),
                verify=ca_bundle if ca_bundle else True,
                allow_redirects=False,
                stream=True,
                **send,
            )
        except Exception as err:  # requests raises many types; all mean "unreachable"
            raise FetchError(f"{type(err).__name__} {doing} {url}") from err
        with response:
            yield response, deadline

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


# --------------------------------------------------------------------------- early fetches


class EarlyTarget(NamedTuple):
    """A document a configuration will fetch first: a key set, or a discovery document whose
    ``jwks_uri`` is fetched next when it names one of ``issuers`` (the check the key cache
    makes before it follows the link)."""

    url: str
    ca_bundle: str | None = None
    issuers: frozenset[str] = frozenset()


class _Slot:
    __slots__ = ("done", "error", "taken", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: FetchError | None = None
        self.taken = False


_NOT_PLANNED: Final = object()


class EarlyFetches:
    """Key documents fetched from the first lines of init, each handed once to the key cache.

    The worker's first act is to import ``requests``; :meth:`start` returns when it has (so the
    main thread does not compete with it for the interpreter before the first request is on the
    wire), and the documents then download while the main thread imports and validates the
    rest. Several targets download in parallel. A result is only ever handed to a fetch of the
    same URL with the same CA bundle, during init (:meth:`close`).
    """

    def __init__(
        self,
        targets: tuple[EarlyTarget, ...],
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.sessions = Sessions()
        self._fetcher = HttpFetcher(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_response_bytes=max_response_bytes,
            sessions=self.sessions,
        )
        self._targets = targets
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str | None], _Slot] = {
            (target.url, target.ca_bundle): _Slot() for target in targets
        }
        self._imported = threading.Event()

    def start(self, *, wait: float = 5.0) -> EarlyFetches:
        """Start the worker and return once it has imported ``requests`` (at most ``wait``)."""
        try:
            threading.Thread(target=self._run, name="key-fetch-early", daemon=True).start()
        except RuntimeError:  # no thread: the key cache fetches as it would without us
            self._give_up()
            return self
        self._imported.wait(wait)
        return self

    def take(self, url: str, ca_bundle: str | None, *, wait: float) -> object:
        """The document fetched early for ``url`` (raising its FetchError), or ``_NOT_PLANNED``.
        Waits at most ``wait`` seconds for a download still under way, then fails like a
        server that does not answer in time."""
        with self._lock:
            slot = self._slots.get((url, ca_bundle))
            if slot is None or slot.taken:
                return _NOT_PLANNED
            slot.taken = True
        if not slot.done.wait(wait):
            raise FetchError(f"response from {url} took too long")
        if slot.error is not None:
            raise slot.error
        return slot.value

    def close(self) -> None:
        """Init is over: nothing more is handed out (a document fetched early and not taken by
        now would be stale by the time anything asked for it)."""
        with self._lock:
            for slot in self._slots.values():
                slot.taken = True

    def _run(self) -> None:
        try:
            self.sessions.get()
        except Exception:  # no requests: the key cache reports the failure when it fetches
            self._give_up()
            return
        finally:
            self._imported.set()
        first, *others = self._targets or (None,)
        for target in others:
            threading.Thread(target=self._fetch, args=(target,), daemon=True).start()
        if first is not None:
            self._fetch(first)

    def _fetch(self, target: EarlyTarget) -> None:
        document = self._get(target.url, target.ca_bundle)
        if target.issuers and isinstance(document, dict):
            jwks_uri = document.get("jwks_uri")
            if document.get("issuer") in target.issuers and isinstance(jwks_uri, str):
                key = (jwks_uri, target.ca_bundle)
                with self._lock:
                    follow = key not in self._slots
                    if follow:
                        self._slots[key] = _Slot()
                self._release(target.url, target.ca_bundle)
                if follow:
                    self._get(jwks_uri, target.ca_bundle)
                    self._release(jwks_uri, target.ca_bundle)
                return
        self._release(target.url, target.ca_bundle)

    def _get(self, url: str, ca_bundle: str | None) -> object:
        slot = self._slots[(url, ca_bundle)]
        try:
            slot.value = self._fetcher.get_json(url, ca_bundle=ca_bundle)
        except FetchError as err:
            slot.error = err
        except Exception as err:  # anything else is a failed fetch too, as in the key cache
            slot.error = FetchError(f"{type(err).__name__} fetching {url}")
        return slot.value

    def _release(self, url: str, ca_bundle: str | None) -> None:
        self._slots[(url, ca_bundle)].done.set()

    def _give_up(self) -> None:
        """Hand nothing more out: the key cache fetches every document itself (a fetch already
        waiting for one of ours fails, as it would have without us: requests is missing)."""
        with self._lock:
            for slot in self._slots.values():
                if slot.taken and not slot.done.is_set():
                    slot.error = FetchError("requests could not be imported")
                    slot.done.set()
                slot.taken = True
