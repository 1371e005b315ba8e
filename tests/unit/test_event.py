"""Event stage: method ARNs are split exactly, and nothing in them can become a wildcard."""

from __future__ import annotations

import pytest

from jwt_authorizer.event import MethodArn


def test_method_arn_keeps_colons_and_proxy_paths() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:api/stage/GET/files/a:b/c:d")
    assert (arn.api_id, arn.stage, arn.method, arn.path) == (
        "api",
        "stage",
        "GET",
        "/files/a:b/c:d",
    )
    root = MethodArn.parse("arn:aws:execute-api:us-east-1:123456789012:api/stage/GET/")
    assert root.path == "/"


def test_the_path_keeps_every_character() -> None:
    arn = MethodArn.parse("arn:aws:execute-api:us-east-1:1:api/prod/GET//a//b/*/?/%2F/")
    assert arn.path == "//a//b/*/?/%2F/"


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:s3:::bucket",
        "arn:aws:execute-api:us-east-1:1:api",
        "arn:aws:execute-api:us-east-1:1:api//GET/x",
        "arn:aws:execute-api:us-east-1:1:api/*/GET/x",
        "arn:aws:execute-api:us-east-1:*:api/prod/GET/x",
        "arn:aws:execute-api:us-east-1:1:api/prod/G?T/x",
        "arn:aws:execute-api:us-east-1:1:a${x}/prod/GET/x",
    ],
)
def test_bad_arns_are_rejected(arn: str) -> None:
    with pytest.raises(ValueError, match="ARN"):
        MethodArn.parse(arn)
