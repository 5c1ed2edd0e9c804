"""Routing on the raw path: percent-encoded ids, and ids that must never reach another route.

These requests go through ``http.client`` so that the exact bytes of the path reach the server
(no client-side normalisation of ``..`` or re-encoding).
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlsplit

import pytest

from .conftest import create_api

NOT_FOUND = {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


def raw_request(api, method: str, path: str, body=None):
    url = urlsplit(api.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    headers = {"Authorization": api.session.headers["Authorization"], "Content-Type": "application/json"}
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_identifier_is_decoded_exactly_once(api):
    rs = create_api(api, "https://orders.example.com/v1?x=1#frag")

    once = raw_request(api, "GET", "/api/v2/resource-servers/" + quote(rs["identifier"], safe=""))
    twice = raw_request(
        api, "GET", "/api/v2/resource-servers/" + quote(quote(rs["identifier"], safe=""), safe="")
    )

    assert once == (200, rs)
    assert twice[0] == 404 and twice[1]["errorCode"] == "inexistent_resource_server"


def test_id_with_a_raw_slash_never_matches_a_route(api):
    rs = create_api(api, "https://orders.example.com/")

    unencoded = raw_request(api, "GET", "/api/v2/resource-servers/https://orders.example.com/")
    patch = raw_request(api, "PATCH", f"/api/v2/resource-servers/{rs['id']}/extra", {"name": "x"})

    assert unencoded == (404, NOT_FOUND)
    assert patch == (404, NOT_FOUND)
    assert api.emu.counters["GET (unmatched)"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/resource-servers/../clients",
        "/api/v2/resource-servers/%2E%2E/clients",
        "/api/v2/clients/../resource-servers",
        "/api/v2/resource-servers/..%2Fclients/",
    ],
)
def test_dot_segments_are_not_normalised_into_another_route(api, path):
    status, body = raw_request(api, "GET", path)

    assert (status, body) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    "entity_id", ["..", "%2E%2E", "..%2Fclients", "%2E%2E%2Fclients", "%3Fpage%3D0", "%23x"]
)
def test_encoded_tricks_stay_inside_the_id(api, entity_id):
    status, body = raw_request(api, "GET", f"/api/v2/resource-servers/{entity_id}")

    assert status == 404
    assert body["errorCode"] == "inexistent_resource_server"


def test_encoded_id_on_patch_reaches_only_its_resource(api):
    rs = create_api(api, "urn:orders")
    other = create_api(api, "urn:billing")

    status, body = raw_request(api, "PATCH", "/api/v2/resource-servers/urn%3Aorders", {"name": "Patched"})

    assert status == 200 and body["id"] == rs["id"] and body["name"] == "Patched"
    assert api.get(f"/api/v2/resource-servers/{other['id']}").json()["name"] == "Orders"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/users"),
        ("GET", "/api/v2/"),
        ("GET", "/api/v2"),
        ("PUT", "/api/v2/clients/x"),
        ("GET", "/api/v2/resource-servers/"),
        ("GET", "/somewhere/else"),
        ("GET", "/oauth/token"),
    ],
)
def test_unknown_routes_are_a_plain_404(api, method, path):
    assert raw_request(api, method, path) == (404, NOT_FOUND)
