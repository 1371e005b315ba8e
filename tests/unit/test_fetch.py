"""Fetch stage: which URLs may be fetched, and HttpFetcher against real HTTP(S) servers that the
test starts on 127.0.0.1 (tests/support/servers.py). Nothing patches requests, urllib3 or
sockets; every failure is a FetchError whose message names what went wrong."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from jwt_authorizer.fetch import FetchError, HttpFetcher, deadline_in, is_fetchable_url
from tests.support.servers import Reply, ScriptedServer, TlsMaterial, closed_port

JWKS = {"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]}
CAP = 4096


def fetcher(*, read_timeout: float = 0.5, max_bytes: int = CAP) -> HttpFetcher:
    return HttpFetcher(connect_timeout=0.5, read_timeout=read_timeout, max_response_bytes=max_bytes)


def failure(url: str, *, ca_bundle: str | None = None, read_timeout: float = 0.5) -> str:
    with pytest.raises(FetchError) as caught:
        fetcher(read_timeout=read_timeout).get_json(url, ca_bundle=ca_bundle)
    return str(caught.value)


@pytest.mark.parametrize(
    ("url", "fetchable"),
    [
        ("https://login.example.com/keys", True),
        ("https://203.0.113.9:8443/keys", True),
        ("https://[2001:db8::1]/keys", True),
        ("http://127.0.0.1:8080/keys", True),
        ("http://localhost/keys", True),
        ("http://[::1]:9000/keys", True),
        ("http://login.example.com/keys", False),
        ("http://127.0.0.2/keys", False),  # loopback, but not one of the development hosts
        ("http://localhost.example.com/keys", False),
        ("ftp://login.example.com/keys", False),
        ("file:///etc/passwd", False),
        ("https://user:pw@login.example.com/keys", False),
        ("https://:pw@login.example.com/keys", False),
        ("https:///keys", False),
        ("https://[::1/keys", False),
        ("//login.example.com/keys", False),
        ("", False),
    ],
)
def test_which_urls_may_be_fetched(url: str, fetchable: bool) -> None:
    assert is_fetchable_url(url) is fetchable


def test_a_deadline_is_on_the_monotonic_clock() -> None:
    before = time.monotonic()
    deadline = deadline_in(2.5)
    assert before + 2.5 <= deadline <= time.monotonic() + 2.5


def test_a_refused_url_is_not_even_looked_up() -> None:
    """The network guard would fail this test on a lookup of login.example.com."""
    assert failure("http://login.example.com/keys") == "refusing a non-https URL"


def test_a_json_document_over_http_on_loopback(scripted: ScriptedServer) -> None:
    url = scripted.serve_json("/keys", JWKS)
    assert fetcher().get_json(url, ca_bundle=None) == JWKS
    (headers,) = scripted.requests
    assert (headers["User-Agent"], headers["Accept"]) == (
        "apigw-jwt-authorizer/0.1 (+key fetch)",
        "application/json",
    )


def test_one_fetcher_keeps_its_connection(scripted: ScriptedServer) -> None:
    url = scripted.serve_json("/keys", JWKS)
    client = fetcher()
    for _ in range(3):
        assert client.get_json(url, ca_bundle=None) == JWKS
    assert len(scripted.clients) == 3
    assert len(set(scripted.clients)) == 1


def test_proxy_variables_are_ignored(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy from the environment would be a lookup of proxy.example, which the network
    guard refuses (and fails the test on)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "")
    url = scripted.serve_json("/keys", JWKS)
    assert fetcher().get_json(url, ca_bundle=None) == JWKS


@pytest.mark.parametrize("status", [201, 204, 304, 401, 404, 500, 503])
def test_only_200_is_a_document(scripted: ScriptedServer, status: int) -> None:
    url = scripted.serve("/keys", Reply(status=status, body=json.dumps(JWKS).encode()))
    assert failure(url) == f"HTTP {status} from {url}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(scripted: ScriptedServer, status: int) -> None:
    target = scripted.serve_json("/elsewhere", JWKS)
    url = scripted.serve("/keys", Reply(status=status, headers={"Location": target}))
    assert failure(url) == f"HTTP {status} from {url}"
    assert (scripted.hits["/keys"], scripted.hits["/elsewhere"]) == (1, 0)


def test_the_size_cap_is_exact(scripted: ScriptedServer) -> None:
    document = {"keys": [], "pad": ""}
    document["pad"] = "A" * (CAP - len(json.dumps(document)))
    body = json.dumps(document).encode()
    assert len(body) == CAP
    url = scripted.serve("/keys", Reply(body=body))
    assert fetcher().get_json(url, ca_bundle=None) == document
    url = scripted.serve("/big", Reply(body=body + b" "))
    assert failure(url) == f"response from {url} exceeds {CAP} bytes"


def test_the_size_cap_holds_without_a_content_length(scripted: ScriptedServer) -> None:
    url = scripted.serve("/keys", Reply(body=b" " * (CAP + 1), chunk=1000))
    assert failure(url) == f"response from {url} exceeds {CAP} bytes"


def test_the_size_cap_applies_to_the_decompressed_body(scripted: ScriptedServer) -> None:
    bomb = gzip.compress(b" " * (CAP * 50))
    assert len(bomb) < CAP
    url = scripted.serve("/keys", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    assert failure(url) == f"response from {url} exceeds {CAP} bytes"
    small = gzip.compress(json.dumps(JWKS).encode())
    url = scripted.serve("/small", Reply(body=small, headers={"Content-Encoding": "gzip"}))
    assert fetcher().get_json(url, ca_bundle=None) == JWKS


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b"", b'{"keys": [', b'"\xff"'])
def test_a_body_that_is_not_json(scripted: ScriptedServer, body: bytes) -> None:
    url = scripted.serve("/keys", Reply(body=body))
    assert failure(url) == f"response from {url} is not JSON"


def test_any_json_value_is_returned_for_the_caller_to_judge(scripted: ScriptedServer) -> None:
    url = scripted.serve("/keys", Reply(body=b"[1, 2]"))
    assert fetcher().get_json(url, ca_bundle=None) == [1, 2]


def test_a_body_trickled_past_the_deadline(scripted: ScriptedServer) -> None:
    """Connect + read timeout is the budget of the whole document, not of each read."""
    url = scripted.serve("/keys", Reply(body=json.dumps(JWKS).encode(), trickle=0.05))
    started = time.monotonic()
    assert failure(url, read_timeout=0.3) == f"response from {url} took too long"
    assert time.monotonic() - started < 1.5


def test_an_answer_slower_than_the_read_timeout(scripted: ScriptedServer) -> None:
    url = scripted.serve("/keys", Reply(body=json.dumps(JWKS).encode(), delay=2.0))
    assert failure(url, read_timeout=0.2) == f"ReadTimeout fetching {url}"


def test_a_body_cut_short(scripted: ScriptedServer) -> None:
    url = scripted.serve(
        "/keys", Reply(body=b'{"keys": [', headers={"Content-Length": "100"}, close=True)
    )
    assert failure(url) == f"ProtocolError reading {url}"


def test_nobody_listening() -> None:
    url = f"http://127.0.0.1:{closed_port()}/keys"
    assert failure(url) == f"ConnectionError fetching {url}"


class TestTls:
    def test_https_with_the_issuers_ca_bundle(self, scripted_tls: ScriptedServer) -> None:
        url = scripted_tls.serve_json("/keys", JWKS)
        assert url.startswith("https://127.0.0.1:")
        assert fetcher().get_json(url, ca_bundle=scripted_tls.ca_bundle) == JWKS

    def test_a_certificate_the_system_does_not_trust(self, scripted_tls: ScriptedServer) -> None:
        url = scripted_tls.serve_json("/keys", JWKS)
        assert failure(url) == f"SSLError fetching {url}"

    def test_a_certificate_from_another_ca(self, scripted_tls: ScriptedServer) -> None:
        url = scripted_tls.serve_json("/keys", JWKS)
        other = TlsMaterial("another CA")
        try:
            assert failure(url, ca_bundle=other.ca_bundle) == f"SSLError fetching {url}"
        finally:
            other.close()
        assert scripted_tls.hits["/keys"] == 0

    def test_plain_http_to_a_tls_server(self, scripted_tls: ScriptedServer) -> None:
        url = scripted_tls.serve_json("/keys", JWKS).replace("https://", "http://")
        assert failure(url) == f"ConnectionError fetching {url}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://login.example.com/oauth2/introspect", "refusing a non-https URL"),
        ("https://user:pw@login.example.com/oauth2/introspect", "refusing a non-https URL"),
    ],
)
def test_a_form_is_posted_only_where_a_key_set_could_be_fetched(url: str, message: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher().post_form(url, {"token": "t"}, headers={}, ca_bundle=None)
    assert str(caught.value) == message


def test_a_form_post_to_a_closed_port_names_the_url_never_the_form() -> None:
    url = f"http://127.0.0.1:{closed_port()}/oauth2/introspect"
    with pytest.raises(FetchError) as caught:
        fetcher().post_form(
            url,
            {"token": "secret-token"},
            headers={"Authorization": "Basic c2VjcmV0"},
            ca_bundle=None,
        )
    assert str(caught.value) == f"ConnectionError calling {url}"
