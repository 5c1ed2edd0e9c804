"""The fault tools the suite relies on: the emulator's after-the-fact faults and the AWS fault proxy."""

from __future__ import annotations

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from local.auth0_emulator import Auth0Emulator, Fault
from local.aws_faults import AwsFault, AwsFaultProxy

pytestmark = pytest.mark.faults


def test_an_after_fault_lets_the_write_happen_and_loses_the_answer():
    with Auth0Emulator() as emulator:
        emulator.add_m2m_client("m2m-client-id", "m2m-client-secret-123456", scopes=None)
        token = emulator.issue_token("m2m-client-id")
        emulator.inject(Fault("drop", after=True, path_prefix="/api/v2/clients", method="POST"))
        emulator.inject(Fault("status", status=502, after=True, path_prefix="/api/v2/clients", method="POST"))
        url, headers = f"{emulator.base_url}/api/v2/clients", {"Authorization": f"Bearer {token}"}
        with pytest.raises(requests.ConnectionError):
            requests.post(url, json={"name": "one"}, headers=headers, timeout=5)
        assert requests.post(url, json={"name": "two"}, headers=headers, timeout=5).status_code == 502
        assert sorted(c["name"] for c in emulator.clients) == ["one", "two"]  # both writes took effect
        assert [r["data"]["description"] for r in emulator.log_events] == ["Create a client"] * 2
    with pytest.raises(ValueError, match="after=True"):
        Fault("unauthorized", after=True)


def test_the_aws_fault_proxy_forwards_throttles_and_drops(aws):
    with AwsFaultProxy(upstream=aws.endpoint_url) as proxy:  # clients below: one retry per call
        client = boto3.client("secretsmanager", endpoint_url=proxy.endpoint_url,
                              config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2,
                                            read_timeout=5))
        client.create_secret(Name="one", SecretString="1")
        client.create_secret(Name="two", SecretString="2")
        proxy.inject(AwsFault("throttle", target="secretsmanager.GetSecretValue", times=2, body_contains='"one"'))
        with pytest.raises(ClientError) as caught:
            client.get_secret_value(SecretId="one")
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert client.get_secret_value(SecretId="two")["SecretString"] == "2"  # not selected
        assert client.get_secret_value(SecretId="one")["SecretString"] == "1"  # a retry got through
        proxy.inject(AwsFault("drop", target="secretsmanager.", times=None))
        with pytest.raises(ConnectionClosedError):
            client.put_secret_value(SecretId="one", SecretString="3")
        proxy.clear()
        assert client.get_secret_value(SecretId="one")["SecretString"] == "1"
        assert proxy.faulted == {"secretsmanager.GetSecretValue": 2, "secretsmanager.PutSecretValue": 2}
    with pytest.raises(ValueError, match="unknown fault kind"):
        AwsFault("meteor", target="x")
