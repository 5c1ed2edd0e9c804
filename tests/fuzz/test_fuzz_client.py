"""The Auth0 client given arbitrary ids (as an operator's re-run by id may): whatever the id, the
request goes to the route it was meant for with the id in one percent-encoded segment, or is
refused before anything is sent; the answer is a typed Auth0 error, never another exception."""

from __future__ import annotations

import pytest
import requests.adapters
from hypothesis import event, given
from hypothesis import strategies as st
from token_exchange_enabler.auth0 import (
    Auth0Error,
    CallStats,
    ClientCredentials,
    InvalidId,
    ManagementApi,
    NotFound,
    TokenEndpoint,
)
from token_exchange_enabler.scopes import LEGACY_SCOPES, OBO_SCOPES

from local.auth0_emulator import Auth0Emulator
from tests.conftest import AUTH0_DOMAIN as DOMAIN
from tests.fuzz.strategies import fuzz_settings, hostile_strings
from tests.fuzz.test_fuzz_handler import check_url

pytestmark = pytest.mark.fuzz
SCOPES = tuple(dict.fromkeys(OBO_SCOPES + LEGACY_SCOPES))  # the routes of both modes


class _Tokens:
    def __init__(self, endpoint: TokenEndpoint):
        self.endpoint, self.token = endpoint, None

    def get(self):
        self.token = self.token or self.endpoint.fetch()
        return self.token

    def invalidate(self, token):
        self.token = None


@pytest.fixture(scope="module")
def client():
    sent: list[tuple[str, str]] = []
    send = requests.adapters.HTTPAdapter.send

    def recording_send(adapter, request, *args, **kwargs):
        sent.append((request.method, request.url))
        return send(adapter, request, *args, **kwargs)

    with Auth0Emulator(domain=DOMAIN) as emulator, pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.adapters.HTTPAdapter, "send", recording_send)
        emulator.add_m2m_client("fuzz-m2m-client", "fuzz-m2m-secret-0123456789", scopes=SCOPES)
        stats = CallStats()
        endpoint = TokenEndpoint(base_url=emulator.base_url, audience=f"https://{DOMAIN}/api/v2/",
                                 credentials=lambda: ClientCredentials("fuzz-m2m-client", "fuzz-m2m-secret-0123456789"),
                                 stats=stats)
        api = ManagementApi(base_url=emulator.base_url, tokens=_Tokens(endpoint), stats=stats)
        yield api, emulator, sent
    for method, url in sent:
        check_url(method, url)
    assert not [key for key in emulator.counters if "unmatched" in key]
    assert emulator.clients == []  # no PATCH ever reached a client


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@fuzz_settings(400)
@given(identifier=st.one_of(hostile_strings(), st.text(max_size=30)),
       call=st.sampled_from(["get_resource_server", "get_client", "patch_client", "patch_resource_server"]))
def test_any_id_stays_in_its_segment(client, identifier, call):
    api, emulator, sent = client
    before = len(sent)
    method = getattr(api, call)
    try:
        if call.startswith("patch"):
            method(identifier, {"name": "fuzz"})
        else:
            method(identifier)
    except InvalidId:
        assert identifier in ("", ".", "..") or not _encodable(identifier)
        assert len(sent) == before  # refused before sending anything
        event("refused before sending")
        return
    except NotFound:
        event("404")
        return
    except Auth0Error as error:  # e.g. 414 for an id too long for a URL
        event(f"{type(error).__name__} {error.status}")
        return
    event("found")  # an id that names the system API by its identifier
    assert call == "get_resource_server"
