"""The Management API scopes each mode needs: defined once in the library, documented in the README."""

from __future__ import annotations

import re

import pytest
from token_exchange_enabler.config import MODE_LEGACY, MODE_ON_BEHALF_OF, MODES
from token_exchange_enabler.scopes import GRANT_SCOPES, LEGACY_SCOPES, OBO_SCOPES, required_scopes

from tests.conftest import ROOT


def readme_scopes() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """mode -> (scopes, extra scopes with downstream grants), from the README's table of modes."""
    found = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        row = re.fullmatch(r"\|\s*`(\w+)`[^|]*\|.*\|\s*([^|]*`[a-z]+:[a-z_]+[^|]*)\|\s*", line)
        if row is None:
            continue
        mode, cell = row.groups()
        base, _, extra = cell.partition("(+")
        found[mode] = (tuple(" ".join(re.findall(r"`([^`]+)`", base)).split()),
                       tuple(" ".join(re.findall(r"`([^`]+)`", extra.split("with", 1)[0])).split()))
    return found


def test_the_readme_table_lists_every_mode():
    assert set(readme_scopes()) == set(MODES)


@pytest.mark.parametrize("mode", MODES)
def test_the_readme_table_matches_required_scopes(mode):
    base, with_grants = readme_scopes()[mode]
    assert base == required_scopes(mode, with_grants=False)
    if mode == MODE_ON_BEHALF_OF:
        assert base + with_grants == required_scopes(mode, with_grants=True)
    else:
        assert with_grants == ()


def test_required_scopes_per_mode():
    assert required_scopes(MODE_ON_BEHALF_OF, with_grants=False) == OBO_SCOPES == (
        "read:resource_servers", "read:clients", "create:clients", "update:clients")
    assert required_scopes(MODE_ON_BEHALF_OF, with_grants=True) == OBO_SCOPES + GRANT_SCOPES
    assert set(GRANT_SCOPES) == {"read:client_grants", "create:client_grants", "update:client_grants"}
    assert required_scopes(MODE_LEGACY, with_grants=False) == LEGACY_SCOPES == (
        "read:resource_servers", "update:resource_servers")


def test_no_scope_is_listed_twice():
    for mode in MODES:
        for with_grants in (False, True) if mode == MODE_ON_BEHALF_OF else (False,):
            scopes = required_scopes(mode, with_grants=with_grants)
            assert len(set(scopes)) == len(scopes)


@pytest.mark.parametrize(("mode", "with_grants"), [(MODE_LEGACY, True), ("on-behalf-of", False), ("", False)])
def test_unknown_modes_and_grants_outside_on_behalf_of_are_refused(mode, with_grants):
    with pytest.raises(ValueError):
        required_scopes(mode, with_grants=with_grants)
