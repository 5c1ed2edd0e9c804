"""Fixtures shared by the whole suite: a local AWS (moto's server over HTTP), a local Auth0 (the
emulator), and the repository's data folders.

Everything the suite reads lives inside the repository: ``events/`` (the project's sample events)
and ``samples/`` (public Auth0 samples, sources and licences in samples/SOURCES.md).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "events"
SAMPLES_DIR = ROOT / "samples"

# The product's Auth0 tenant in every test, and its Machine-to-Machine application.
AUTH0_DOMAIN = "acme.eu.auth0.com"
M2M_CLIENT_ID = "tee0000000000000000000000000m2m"
M2M_CLIENT_SECRET = "s3cr3t-" + "x" * 57  # scanned for in captured logs

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


def load_sample(name: str) -> Any:
    """A JSON file of samples/, parsed (a missing sample is an error, never a skip)."""
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture
def emulator_scopes() -> tuple[str, ...]:
    """The scopes of the product's M2M client in :func:`emulator`; a test folder or module overrides
    this fixture to give it others (by default: ``on_behalf_of`` with downstream grants)."""
    from token_exchange_enabler.config import MODE_ON_BEHALF_OF
    from token_exchange_enabler.scopes import required_scopes

    return required_scopes(MODE_ON_BEHALF_OF, with_grants=True)


@pytest.fixture
def emulator(emulator_scopes) -> Iterator[Any]:
    """A started Auth0 emulator for ``AUTH0_DOMAIN`` that knows the product's M2M client
    (``M2M_CLIENT_ID``/``M2M_CLIENT_SECRET`` with ``emulator_scopes``); stopped afterwards."""
    from local.auth0_emulator import Auth0Emulator

    with Auth0Emulator(domain=AUTH0_DOMAIN) as emu:
        emu.add_m2m_client(M2M_CLIENT_ID, M2M_CLIENT_SECRET, scopes=emulator_scopes)
        yield emu
