import json

import pytest
from token_exchange_enabler.config import MODE_LEGACY, Config, ConfigError, DownstreamGrant, base_url_problem

BASE = {
    "AUTH0_DOMAIN": "acme.eu.auth0.com",
    "AUTH0_CREDENTIALS_SECRET_ID": "auth0/credentials",
    "TOKEN_CACHE_SECRET_ID": "auth0/token-cache",
}


def test_minimal_configuration_has_safe_defaults():
    config = Config.from_env(BASE)
    assert config.mode == "on_behalf_of"
    assert config.base_url == "https://acme.eu.auth0.com"
    assert config.audience == "https://acme.eu.auth0.com/api/v2/"
    assert config.dry_run is False
    assert config.skip_identifier_patterns == ()
    assert config.dead_letter_queue_url is None


def test_every_missing_variable_is_named_in_one_error():
    with pytest.raises(ConfigError) as caught:
        Config.from_env({})
    message = str(caught.value)
    for name in ("AUTH0_DOMAIN", "AUTH0_CREDENTIALS_SECRET_ID", "TOKEN_CACHE_SECRET_ID"):
        assert f"{name} is required" in message
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    "variable,value,expected",
    [
        ("AUTH0_DOMAIN", "https://acme.eu.auth0.com", "AUTH0_DOMAIN must be the tenant's domain"),
        ("AUTH0_DOMAIN", "acme.eu.auth0.com/api", "AUTH0_DOMAIN must be the tenant's domain"),
        ("TOKEN_EXCHANGE_MODE", "obo", "TOKEN_EXCHANGE_MODE must be one of on_behalf_of, legacy_resource_server"),
        ("DRY_RUN", "maybe", "DRY_RUN must be true or false"),
        ("AUTH0_BASE_URL", "http://auth0.example.com", "may use plain http:// only for a loopback host"),
        ("AUTH0_BASE_URL", "ftp://127.0.0.1", "must be an absolute https:// URL"),
        ("AUTH0_BASE_URL", "https://user:pw@acme.eu.auth0.com", "must not contain credentials"),
        ("AUTH0_HTTP_TIMEOUT", "-1", "AUTH0_HTTP_TIMEOUT must be seconds"),
    ],
)
def test_bad_values_get_one_clear_message_naming_the_variable(variable, value, expected):
    with pytest.raises(ConfigError) as caught:
        Config.from_env({**BASE, variable: value})
    assert len(caught.value.problems) == 1
    assert expected in caught.value.problems[0]
    assert caught.value.problems[0].startswith(variable)


def test_loopback_http_base_url_is_accepted_for_an_emulator():
    config = Config.from_env({**BASE, "AUTH0_BASE_URL": "http://127.0.0.1:8080/"})
    assert config.base_url == "http://127.0.0.1:8080"
    assert config.audience == "https://acme.eu.auth0.com/api/v2/"  # the audience never follows the base URL


@pytest.mark.parametrize("url", ["http://localhost:1", "http://127.0.0.2:9", "http://[::1]:80", "https://x.example"])
def test_allowed_base_urls(url):
    assert base_url_problem(url) is None


@pytest.mark.parametrize("url", ["http://10.0.0.1", "http://169.254.169.254", "http://localhost.evil.com",
                                 "http://127.0.0.1.nip.io", "http://localhost.", "http://0.0.0.0:8080",
                                 "http://[::ffff:10.0.0.1]", "http://[::]", "http://2130706433", "http://0x7f000001",
                                 "HTTP://auth0.example.com", "http://acme.eu.auth0.com:443"])
def test_plain_http_to_a_non_loopback_host_is_refused(url):
    assert "loopback" in base_url_problem(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:80@evil.example", "http://user@127.0.0.1",
                                 "http://127.0.0.1\\@evil.example", "https://evil.example#@127.0.0.1",
                                 "https://acme.eu.auth0.com?x=1", "https://acme.eu.auth0.com/../api"])
def test_base_urls_that_hide_another_host_or_a_path_are_refused(url):
    assert base_url_problem(url) is not None


def test_an_http_base_url_is_refused_by_the_configuration_naming_the_variable():
    with pytest.raises(ConfigError) as caught:
        Config.from_env({**BASE, "AUTH0_BASE_URL": "http://acme.eu.auth0.com"})
    assert caught.value.problems == [
        "AUTH0_BASE_URL may use plain http:// only for a loopback host, got 'acme.eu.auth0.com'"]


def test_options():
    config = Config.from_env(
        {
            **BASE,
            "TOKEN_EXCHANGE_MODE": MODE_LEGACY,
            "SKIP_IDENTIFIER_PATTERNS": "urn:internal:*, https://legacy.example.com/*",
            "DRY_RUN": "true",
            "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq",
        }
    )
    assert config.mode == MODE_LEGACY
    assert config.dry_run is True
    assert config.is_skipped_identifier("urn:internal:billing") == "urn:internal:*"
    assert config.is_skipped_identifier("https://api.example.com") is None
    assert config.dead_letter_queue_url.endswith("/dlq")


def test_downstream_grants_only_in_on_behalf_of_mode():
    with pytest.raises(ConfigError, match="DOWNSTREAM_GRANTS applies only to TOKEN_EXCHANGE_MODE=on_behalf_of"):
        Config.from_env({**BASE, "TOKEN_EXCHANGE_MODE": MODE_LEGACY, "DOWNSTREAM_GRANTS": '{"https://x": "*"}'})


def test_downstream_grants_map_audiences_to_scopes_or_all():
    config = Config.from_env({**BASE, "DOWNSTREAM_GRANTS": json.dumps(
        {"https://orders.acme.com": ["read:orders", "read:orders", "write:orders"], "urn:acme:billing": "*"})})
    assert config.downstream_grants == (
        DownstreamGrant("https://orders.acme.com", ("read:orders", "write:orders")),
        DownstreamGrant("urn:acme:billing", None),
    )
    assert config.downstream_grants[1].all_scopes


@pytest.mark.parametrize("value,expected", [
    ("not json", "DOWNSTREAM_GRANTS is not valid JSON"),
    ('["https://x"]', "DOWNSTREAM_GRANTS must be a JSON object"),
    ('{"https://x": []}', "DOWNSTREAM_GRANTS['https://x']: an empty list grants nothing"),
    ('{"https://x": "read:x"}', "DOWNSTREAM_GRANTS['https://x'] must be a list of scopes"),
    ('{"https://x": ["read x"]}', "DOWNSTREAM_GRANTS['https://x'] must be a list of scopes"),
    ('{"https://x": [1]}', "DOWNSTREAM_GRANTS['https://x'] must be a list of scopes"),
    ('{" https://x": "*"}', "an audience must be an API identifier"),
])
def test_bad_downstream_grants_are_named_entry_by_entry(value, expected):
    with pytest.raises(ConfigError) as caught:
        Config.from_env({**BASE, "DOWNSTREAM_GRANTS": value})
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_every_bad_grant_entry_is_named_at_once():
    with pytest.raises(ConfigError) as caught:
        Config.from_env({**BASE, "DOWNSTREAM_GRANTS": '{"https://a": [], "https://b": 3, "https://c": "*"}'})
    assert len(caught.value.problems) == 2
    assert "'https://a'" in caught.value.problems[0] and "'https://b'" in caught.value.problems[1]


def test_the_old_grant_variable_is_refused_with_its_replacement_named():
    with pytest.raises(ConfigError) as caught:
        Config.from_env({**BASE, "DOWNSTREAM_GRANT_AUDIENCES": "https://x"})
    (problem,) = caught.value.problems
    assert "DOWNSTREAM_GRANT_AUDIENCES is no longer read" in problem and "DOWNSTREAM_GRANTS" in problem


@pytest.mark.parametrize("value,share", [("", 0.5), ("1", 1.0), ("0.25", 0.25), ("1.0", 1.0)])
def test_rate_share(value, share):
    assert Config.from_env({**BASE, "MANAGEMENT_API_RATE_SHARE": value}).rate_share == share


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "half", "nan", "inf"])
def test_a_rate_share_outside_0_to_1_is_refused(value):
    with pytest.raises(ConfigError, match="MANAGEMENT_API_RATE_SHARE must be a number with 0 < share <= 1"):
        Config.from_env({**BASE, "MANAGEMENT_API_RATE_SHARE": value})


def test_skip_created_by_client_ids():
    config = Config.from_env({**BASE, "SKIP_CREATED_BY_CLIENT_IDS": " tfClient , deployCli,"})
    assert config.skip_created_by_client_ids == frozenset({"tfClient", "deployCli"})
