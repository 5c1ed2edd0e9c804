"""The SAM template, as written and as CloudFormation receives it after the SAM transform.

Nothing here reaches AWS: the transform runs locally (aws-sam-translator, the library behind
``sam validate`` and CloudFormation's own AWS::Serverless transform) with the AWS managed policy
list it would fetch from IAM replaced by a fixed table.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
EVENTS_DIR = ROOT / "events"
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"

# Values for the parameters that have no default (SAM fills in the defaults of the others).
PARAMETER_VALUES = {
    "Auth0Domain": "acme.eu.auth0.com",
    "Auth0EventBusName": "aws.partner/auth0.com/acme-4f6d2c8e-9b1a-4e37-8a52-0c7d3e9f1b64/auth0.logs",
    "Auth0CredentialsSecretArn": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-exchange-enabler/auth0-AbCdEf"
    ),
}

# What `sam package` writes in place of local code folders.
_PACKAGED_URI = {
    "AWS::Serverless::Function": ("CodeUri", "s3://artifacts-bucket/function.zip"),
    "AWS::Serverless::LayerVersion": ("ContentUri", "s3://artifacts-bucket/layer.zip"),
}


class StaticManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists AWS managed policies via IAM.

    SAM asks for the table only when a function's Policies name an AWS managed policy; this covers
    the ones a SAM function ordinarily uses.
    """

    POLICIES = {
        name: f"arn:aws:iam::aws:policy/{path}{name}"
        for path, name in [
            ("service-role/", "AWSLambdaBasicExecutionRole"),
            ("service-role/", "AWSLambdaSQSQueueExecutionRole"),
            ("", "AWSXrayWriteOnlyAccess"),
        ]
    }

    def load(self) -> dict[str, str]:
        return dict(self.POLICIES)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts and lists, short-form intrinsics (!Ref, !Sub...) expanded."""
    from cfnlint.decode import cfn_yaml

    # A JSON round trip drops cfn-lint's position-tracking node types.
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template that the AWS::Serverless transform makes of ``template``."""
    from samtranslator.translator.transform import transform

    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        if resource["Type"] in _PACKAGED_URI:
            key, uri = _PACKAGED_URI[resource["Type"]]
            resource["Properties"][key] = uri
    with pytest.MonkeyPatch.context() as patch:
        # The translator fills AWS::Region / AWS::Partition from a boto3 session's region.
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(packaged, dict(PARAMETER_VALUES), StaticManagedPolicyLoader())
