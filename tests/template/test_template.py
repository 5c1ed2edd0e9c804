"""template.yaml as a whole: it transforms and lints cleanly; its parameters, layer, outputs and
deployment settings. The other concerns have their own files (see tests/template/support.py).

Fast and offline: the SAM transform and cfn-lint run in-process.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.template.support import (
    FUNCTION,
    PARAMETER_VALUES,
    ROLE,
    ROOT,
    SAMCONFIG_PATH,
    get_att,
    props,
    resources,
    the_layer_id,
)

# cfn-lint findings accepted (rule id -> why). Informational checks are on, so this is strict.
ACCEPTED_LINT_FINDINGS: dict[str, str] = {}
LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


# --- the template is valid ---------------------------------------------------------------------


def _lint(text: str) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(text, config=ManualArgs(regions=LINT_REGIONS, include_checks=["I"]))
    return [
        f"{m.rule.id} line {m.linenumber}: {m.message}"
        for m in matches
        if m.rule.id not in ACCEPTED_LINT_FINDINGS
    ]


def test_cfn_lint_accepts_the_sam_template(template_text):
    assert _lint(template_text) == []


def test_cfn_lint_accepts_the_transformed_template(cfn_template):
    assert "Transform" not in cfn_template
    assert _lint(json.dumps(cfn_template)) == []


def test_the_transform_produces_the_function_its_mapping_and_the_layer(cfn_template):
    assert cfn_template["Resources"][FUNCTION]["Type"] == "AWS::Lambda::Function"
    assert props(cfn_template, FUNCTION)["Role"] == get_att(ROLE, "Arn")  # not a SAM-generated role
    assert len(resources(cfn_template, "AWS::Lambda::EventSourceMapping")) == 1
    assert len(resources(cfn_template, "AWS::Lambda::LayerVersion")) == 1


# --- parameters --------------------------------------------------------------------------------


def test_required_parameters_are_the_tenant_facts(sam_template):
    required = {name for name, p in sam_template["Parameters"].items() if "Default" not in p}
    assert required == set(PARAMETER_VALUES)
    assert all(p.get("Description") for p in sam_template["Parameters"].values())


def test_parameter_defaults(sam_template):
    defaults = {name: p.get("Default") for name, p in sam_template["Parameters"].items()}
    assert (
        defaults
        | {
            "TokenExchangeMode": "on_behalf_of",
            "MaximumConcurrency": 5,
            "BatchSize": 10,
            "MaxReceiveCount": 5,
            "FunctionTimeout": 60,
            "FunctionMemorySize": 256,
            "LogRetentionDays": 30,
            "SkipIdentifierPatterns": "",
            "DownstreamGrants": "",
            "SkipCreatedByClientIds": "",
            "EnableDelaySeconds": 0,
            "ManagementApiRateShare": "0.5",
            "DryRun": "false",
            "AlarmEmail": "",
            "EnableTracing": "false",
        }
        == defaults
    )
    assert sam_template["Parameters"]["MaximumConcurrency"]["MinValue"] == 2  # the SQS event source's minimum


def test_token_exchange_modes_are_the_librarys(sam_template):
    from token_exchange_enabler.config import MODES

    assert sam_template["Parameters"]["TokenExchangeMode"]["AllowedValues"] == list(MODES)


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("Auth0Domain", "acme.eu.auth0.com", True),
        ("Auth0Domain", "login.acme-corp.com", True),
        ("Auth0Domain", "https://acme.eu.auth0.com", False),
        ("Auth0Domain", "acme.eu.auth0.com/", False),
        ("Auth0Domain", "acme", False),
        ("Auth0Domain", "Acme.eu.auth0.com", False),
        ("Auth0EventBusName", PARAMETER_VALUES["Auth0EventBusName"], True),
        ("Auth0EventBusName", "bus with spaces", False),
        ("Auth0CredentialsSecretArn", PARAMETER_VALUES["Auth0CredentialsSecretArn"], True),
        ("Auth0CredentialsSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth0", False),
        ("Auth0CredentialsSecretArn", "token-exchange-enabler/auth0", False),
        ("Auth0CredentialsSecretKmsKeyArn", "", True),
        ("Auth0CredentialsSecretKmsKeyArn", "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd", True),
        ("Auth0CredentialsSecretKmsKeyArn", "alias/aws/secretsmanager", False),
        ("AlarmEmail", "", True),
        ("AlarmEmail", "alerts@acme.com", True),
        ("AlarmEmail", "alerts", False),
    ],
)
def test_parameter_patterns(sam_template, parameter, value, accepted):
    pattern = sam_template["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


# --- layer, outputs, deployment settings -------------------------------------------------------


def test_layer_is_built_by_its_makefile_for_the_functions_platform(sam_template):
    layer_id = the_layer_id(sam_template, "AWS::Serverless::LayerVersion")
    layer = sam_template["Resources"][layer_id]
    function = props(sam_template, FUNCTION)
    shared = sam_template["Globals"]["Function"]
    assert "Runtime" not in function and "Architectures" not in function  # both come from Globals
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == [shared["Runtime"]]
    assert layer["Properties"]["CompatibleArchitectures"] == shared["Architectures"] == ["arm64"]
    assert layer["Properties"]["RetentionPolicy"] == "Delete"
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "Makefile").is_file()
    assert (content / "requirements.txt").is_file()
    assert (content / "python" / "token_exchange_enabler" / "__init__.py").is_file()


def test_outputs_name_what_operators_need(cfn_template):
    assert {
        "ApiCreatedQueueUrl",
        "ApiCreatedQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "DeliveryDeadLetterQueueUrl",
        "DeliveryDeadLetterQueueArn",
        "EnableTokenExchangeFunctionName",
        "EnableTokenExchangeFunctionArn",
        "TokenCacheSecretArn",
        "IdempotencyTableName",
        "ApiCreatedRuleArn",
        "AlarmTopicArn",
    } <= set(cfn_template["Outputs"])


def test_samconfig_deploys_with_a_reviewed_change_set(cfn_template):
    config = tomllib.loads(Path(SAMCONFIG_PATH).read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    assert config["default"]["global"]["parameters"]["stack_name"] == "token-exchange-enabler"
    assert config["default"]["build"]["parameters"] == {"cached": True, "parallel": True}
    deploy = config["default"]["deploy"]["parameters"]
    assert (deploy["capabilities"], deploy["confirm_changeset"], deploy["resolve_s3"]) == (
        "CAPABILITY_IAM",
        True,
        True,
    )
    # CAPABILITY_IAM (not _NAMED_IAM) is enough only while no IAM resource has a fixed name.
    for role in resources(cfn_template, "AWS::IAM::Role").values():
        assert "RoleName" not in role["Properties"]


def test_outputs_name_the_operations_functions(cfn_template):
    assert {"ReplayFunctionName", "ReconcileFunctionName", "ReplayLogGroupName", "ReconcileLogGroupName"} <= set(
        cfn_template["Outputs"]
    )


@pytest.mark.parametrize("value", ["0.5", "1", "1.0", ".25", "0.05", "0.999"])
def test_the_rate_share_parameter_accepts_what_the_library_accepts(sam_template, value):
    from token_exchange_enabler.config import Config

    pattern = sam_template["Parameters"]["ManagementApiRateShare"]["AllowedPattern"]
    assert re.fullmatch(pattern, value)
    env = {"AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CREDENTIALS_SECRET_ID": "c", "TOKEN_CACHE_SECRET_ID": "t"}
    assert Config.from_env({**env, "MANAGEMENT_API_RATE_SHARE": value}).rate_share == float(value)


@pytest.mark.parametrize("value", ["0", "0.0", "1.5", "2", "half", "", "-0.5"])
def test_the_rate_share_parameter_refuses_what_the_library_refuses(sam_template, value):
    pattern = sam_template["Parameters"]["ManagementApiRateShare"]["AllowedPattern"]
    assert not re.fullmatch(pattern, value)


def test_the_delivery_delay_is_the_queues(sam_template):
    queue = sam_template["Resources"]["ApiCreatedQueue"]["Properties"]
    assert queue["DelaySeconds"] == {"Ref": "EnableDelaySeconds"}
    parameter = sam_template["Parameters"]["EnableDelaySeconds"]
    assert (parameter["MinValue"], parameter["MaxValue"], parameter["Default"]) == (0, 900, 0)  # SQS's range
