"""The dependency locks: hash-pinned, up to date with their .in files, and the development
environment on exactly the versions the Lambda layer is built with.

`make lock` regenerates them (pip-compile --generate-hashes); `make venv` and the layer's build
recipe install them with --require-hashes.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

LAYER_IN = ROOT / "layers" / "token_exchange" / "requirements.in"
LAYER_LOCK = ROOT / "layers" / "token_exchange" / "requirements.txt"
LOCKS = {LAYER_IN: LAYER_LOCK, ROOT / "requirements-dev.in": ROOT / "requirements-dev.lock",
         ROOT / "requirements-checkov.in": ROOT / "requirements-checkov.lock"}
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([A-Za-z0-9.+!-]+)")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile lock."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    entries = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        match = _PIN.fullmatch(words[0])
        assert match, f"{path.name}: not an exact pin: {line[:80]}"
        hashes = [w.removeprefix("--hash=") for w in words[1:]]
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{path.name}: {words[0]}"
        entries[_key(match.group(1))] = (match.group(2), hashes)
    return entries


def in_pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            match = _PIN.fullmatch(line)
            assert match, f"{path.name}: pin top-level requirements exactly: {line}"
            pins[_key(match.group(1))] = match.group(2)
    return pins


@pytest.mark.parametrize("source", list(LOCKS), ids=lambda p: p.name)
def test_every_lock_is_hash_pinned_and_matches_its_in_file(source):
    locked = lock_entries(LOCKS[source])
    for name, version in in_pins(source).items():
        assert name in locked, f"{name} is in {source.name} but not in its lock: run `make lock`"
        assert locked[name][0] == version, f"{name}: {source.name} says {version}, the lock {locked[name][0]}"


def test_the_development_environment_uses_the_layers_versions_and_files():
    layer, dev = lock_entries(LAYER_LOCK), lock_entries(ROOT / "requirements-dev.lock")
    for name, (version, hashes) in layer.items():
        assert dev.get(name, (None,))[0] == version, f"{name}: the layer has {version}, .venv {dev.get(name)}"
        assert set(hashes) == set(dev[name][1])
    assert not {"boto3", "botocore"} & set(layer)  # the Lambda runtime provides them


def test_the_layer_lock_carries_hashes_for_every_platform():
    # pip-compile lists every file of a pinned version; a package with compiled wheels therefore
    # has many hashes (the layer is built for manylinux2014_aarch64/cp312, .venv is the local one).
    version, hashes = lock_entries(LAYER_LOCK)["charset-normalizer"]
    assert len(hashes) > 20, "the lock lost the other platforms' wheels: regenerate it with `make lock`"
