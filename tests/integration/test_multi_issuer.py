"""Several issuers in one authorizer: parallel prefetch, isolation of failures, tenants."""

from __future__ import annotations

import json

from devkit.idp import DEFAULT_TENANT_ID
from jwt_authorizer.handler import Authorizer
from tests.conftest import IdpFactory
from tests.support.observers import RecordingObserver

from .conftest import (
    HarnessFactory,
    auth_config,
    elapsed,
    issuer_entry,
    run_authorizer,
)

OTHER_TENANT = "0d2c4b6a-8e1f-4a3b-9c5d-7e6f8a9b0c1d"


def test_prefetch_runs_in_parallel_and_one_idp_down_spoils_nothing_else(
    idp_factory: IdpFactory,
) -> None:
    b2c = idp_factory(profile="entra-b2c")
    wso2 = idp_factory(profile="wso2", tls=True)
    entra = idp_factory(profile="entra-id")
    down = idp_factory(profile="entra-id", tenant_id=OTHER_TENANT)
    for idp in (b2c, wso2, entra):
        idp.set_mode("slow", delay=0.6, targets=["discovery"])
    down_entry = issuer_entry(down)
    down.close_port()
    document = auth_config(
        issuer_entry(b2c),
        issuer_entry(wso2),
        issuer_entry(entra),
        down_entry,
        read_timeout_seconds=2.0,
    )
    observer = RecordingObserver()

    seconds, authorizer = elapsed(
        lambda: Authorizer.from_environ({"AUTH_CONFIG": json.dumps(document)}, observer=observer)
    )
    assert isinstance(authorizer, Authorizer), authorizer
    # Three 0.6 s discovery calls: at least 1.8 s one after the other.
    assert seconds < 1.5, f"prefetch took {seconds:.2f} s: not parallel"

    for idp in (b2c, wso2, entra):
        assert run_authorizer(authorizer, observer, idp.mint())[0] == "allow"
        assert idp.request_count("jwks") == 1
    assert run_authorizer(authorizer, observer, down.mint())[0] == "keys_unavailable"
    # A token claiming one issuer is never checked against another issuer's keys.
    forged = b2c.mint(claims={"iss": entra.issuer, "tid": DEFAULT_TENANT_ID})
    assert run_authorizer(authorizer, observer, forged)[0] == "unauthorized"
    assert observer.last_reason == "unknown_kid"


def test_prefetch_reports_each_issuer(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    up = idp_factory(profile="entra-b2c")
    down = idp_factory(profile="wso2")
    down_entry = issuer_entry(down)
    down.set_mode("error", status=502)
    harness = build_harness(auth_config(issuer_entry(up), down_entry))
    assert harness.prefetched == {up.issuer: True, down.issuer: False}


def test_entra_multi_tenant_template_fetches_per_allowed_tenant(
    idp_factory: IdpFactory, build_harness: HarnessFactory
) -> None:
    """``{tenantid}`` issuers: one key set per allow-listed tenant, discovered per tenant."""
    idp = idp_factory(profile="entra-id")
    templated = idp.issuer.replace(DEFAULT_TENANT_ID, "{tenantid}")
    harness = build_harness(
        auth_config(
            {
                "issuer": templated,
                "audiences": [idp.audience],
                "profile": "entra-id",
                "tenants": [DEFAULT_TENANT_ID, OTHER_TENANT],
            }
        )
    )
    resolved = templated.replace("{tenantid}", DEFAULT_TENANT_ID)
    other = templated.replace("{tenantid}", OTHER_TENANT)
    # The IdP only serves its own tenant: the other tenant's key set is unavailable.
    assert harness.prefetched == {resolved: True, other: False}
    assert harness.outcome(idp.mint()) == "allow"

    foreign = idp.mint(claims={"iss": other, "tid": OTHER_TENANT})
    assert harness.outcome(foreign) == "keys_unavailable"
    stranger = "11111111-2222-4333-8444-555555555555"
    outsider = idp.mint(claims={"iss": templated.replace("{tenantid}", stranger), "tid": stranger})
    assert harness.outcome(outsider) == "wrong_tenant"
