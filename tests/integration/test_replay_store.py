"""The DPoP replay store against DynamoDB's API, served by moto's server mode on 127.0.0.1 (real
HTTP, as the SSM tests do): the conditional write, the TTL attribute, two execution environments
sharing one table, concurrency, and failing closed when the store cannot answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jwt_authorizer import Authorizer
from jwt_authorizer.errors import ReplayStoreUnavailable
from jwt_authorizer.replay import DynamoDbReplayStore, replay_key
from tests.support.aws import aws_endpoint, moto_server
from tests.support.dpop import DpopClient
from tests.support.fetchers import NoNetworkFetcher
from tests.support.observers import RecordingObserver
from tests.support.signing import SigningKey, claims
from tests.support.stages import issuer_entry

TABLE = "dpop-replay"
HOST = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
URL = f"https://{HOST}/prod/orders"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server(serial=True) as url:
        yield url


@pytest.fixture
def dynamodb(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3

    with aws_endpoint(monkeypatch, moto_endpoint):
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName=TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
        yield client
        client.delete_table(TableName=TABLE)


def authorizer(key: SigningKey, observer: RecordingObserver | None = None) -> Authorizer:
    """One execution environment: its own local replay cache, the shared table (found through
    AUTH_CONFIG like a deployment; boto3 reaches moto through AWS_ENDPOINT_URL)."""
    document = {
        "issuers": [issuer_entry(key, dpop="required")],
        "dpop": {"replay_table": TABLE, "authorizer_cache_off": True},
    }
    return Authorizer.from_environ(
        {"AUTH_CONFIG": json.dumps(document)}, fetcher=NoNetworkFetcher(), observer=observer
    )


def event(token: str, proof: str) -> dict[str, Any]:
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/orders",
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": {"path": "/prod/orders", "domainName": HOST, "stage": "prod"},
    }


def outcome(auth: Authorizer, evt: dict[str, Any]) -> str:
    try:
        answer = auth(evt, None)
    except Exception as err:
        return str(err)
    return "allowed" if answer["policyDocument"]["Statement"][0]["Effect"] == "Allow" else "deny"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("RS256", kid="rsa-1")


def test_the_store_accepts_a_proof_once_and_writes_a_ttl(dynamodb: Any, key: SigningKey) -> None:
    client = DpopClient.generate()
    token = key.sign(claims(cnf={"jkt": client.jkt}))
    proof = client.proof("GET", URL, token)
    auth = authorizer(key)
    assert outcome(auth, event(token, proof)) == "allowed"
    assert outcome(auth, event(token, proof)) == "Unauthorized"  # the local cache
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert len(item["pk"]["S"]) == 64  # a digest, never the jti
    assert int(item["expires_at"]["N"]) > int(claims()["iat"])


def test_two_execution_environments_share_the_store(dynamodb: Any, key: SigningKey) -> None:
    client = DpopClient.generate()
    token = key.sign(claims(cnf={"jkt": client.jkt}))
    proof = client.proof("GET", URL, token)
    first, second = authorizer(key), authorizer(key)
    assert outcome(first, event(token, proof)) == "allowed"
    assert outcome(second, event(token, proof)) == "Unauthorized"
    assert outcome(second, event(token, client.proof("GET", URL, token))) == "allowed"


def race(environments: list[Authorizer], evt: dict[str, Any], per_environment: int) -> list[str]:
    """Send ``evt`` from every environment at once (threads released by one barrier)."""
    start = threading.Barrier(len(environments) * per_environment)
    results: list[str] = []
    lock = threading.Lock()

    def call(auth: Authorizer) -> None:
        start.wait()
        result = outcome(auth, evt)
        with lock:
            results.append(result)

    threads = [
        threading.Thread(target=call, args=(auth,))
        for auth in environments
        for _ in range(per_environment)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


def test_concurrent_replays_exactly_one_wins(dynamodb: Any, key: SigningKey) -> None:
    """Two environments, one proof, sent at the same moment, several times over."""
    environments = [authorizer(key), authorizer(key)]
    client = DpopClient.generate()
    for _ in range(5):
        token = key.sign(claims(cnf={"jkt": client.jkt}))
        evt = event(token, client.proof("GET", URL, token))
        results = race(environments, evt, per_environment=2)
        assert results == ["Unauthorized", "Unauthorized", "Unauthorized", "allowed"]


def test_an_expired_item_not_yet_deleted_does_not_block(dynamodb: Any) -> None:
    store = DynamoDbReplayStore(TABLE)
    name = replay_key("https://idp/", "jkt", "jti-1")
    assert store.claim(name, expires_at=1000, now=900) is True
    assert store.claim(name, expires_at=1100, now=950) is False
    assert store.claim(name, expires_at=2000, now=1500) is True  # TTL passed, item still there


def test_an_unreachable_store_fails_closed(dynamodb: Any, key: SigningKey) -> None:
    """No table: a 500 (an error that is not ``Unauthorized``, which API Gateway does not
    cache), the reason logged and the ``ReplayStoreUnavailable`` metric counted."""
    client = DpopClient.generate()
    token = key.sign(claims(cnf={"jkt": client.jkt}))
    observer = RecordingObserver()
    auth = authorizer(key, observer)
    dynamodb.delete_table(TableName=TABLE)
    try:
        with pytest.raises(ReplayStoreUnavailable) as caught:
            auth(event(token, client.proof("GET", URL, token)), None)
        assert str(caught.value) == "the DPoP replay store is unavailable"
        assert [d["reason"] for d in observer.denials] == ["replay_store_unavailable"]
        assert observer.denials[0]["detail"] == f"ResourceNotFoundException from {TABLE}"
        assert (observer.counts["ReplayStoreUnavailable"], observer.counts["Unauthorized"]) == (
            1,
            0,
        )
    finally:
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
