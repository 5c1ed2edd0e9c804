"""Fixtures shared by the whole suite: a local AWS (moto's server over HTTP) and paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"
EVENTS_DIR = ROOT / "events"

# The product's library as Lambda sees it (the layer's python/ folder) and the local tools.
for path in (ROOT / "layers" / "token_exchange" / "python", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Never let a test reach a real AWS account, whatever the developer's shell holds.
for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(var, None)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TokenExchangeEnabler")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "token-exchange-enabler")


@pytest.fixture(scope="session")
def local_aws():
    """moto in server mode on a free loopback port; boto3 in this process points at it."""
    from local.aws import local_aws_environment

    with local_aws_environment() as aws:
        yield aws


@pytest.fixture
def aws(local_aws):
    """A clean local AWS for one test."""
    local_aws.reset()
    yield local_aws
