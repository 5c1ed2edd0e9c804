"""The layer's build recipe (layers/token_exchange/Makefile), as `sam build` runs it.

The recipe is run for real with `make`, in a copy of the layer folder as SAM does, with pip
replaced by a stub that records its arguments: no network, and the layout of the result and the
exact pip command line are both checked. Stray files are planted in scratch copies only, never in
the real tree.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.template.support import ROOT

# Lambda architecture -> the manylinux platform tag pip must install wheels for.
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
PACKAGE = "token_exchange_enabler"


@pytest.fixture(scope="module")
def layer(sam_template) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [
        (rid, r)
        for rid, r in sam_template["Resources"].items()
        if r["Type"] == "AWS::Serverless::LayerVersion"
    ]
    return logical_id, resource


@pytest.fixture(scope="module")
def layer_dir(layer) -> Path:
    return ROOT / layer[1]["Properties"]["ContentUri"]


def makefile_targets(text: str) -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", text, flags=re.MULTILINE))


def test_makefile_has_the_target_sam_calls(layer, layer_dir):
    logical_id, resource = layer
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    # SAM runs `make build-<logical id>`.
    assert f"build-{logical_id}" in makefile_targets((layer_dir / "Makefile").read_text(encoding="utf-8"))


def test_requirements_are_pinned_and_leave_boto3_to_the_runtime(layer_dir):
    # A pip-compile lock: "name==version \" followed by "--hash=sha256:..." continuation lines.
    text = (layer_dir / "requirements.txt").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.replace("\\\n", " ").splitlines()]
    entries = [line.split() for line in lines if line]
    requirements = [entry[0] for entry in entries]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[A-Za-z0-9.]+", r) for r in requirements), requirements
    assert all(len(entry) > 1 and all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in entry[1:])
               for entry in entries), entries
    names = {r.split("==")[0].split("[")[0].lower() for r in requirements}
    assert {"aws-lambda-powertools", "requests"} <= names
    assert not names & {"boto3", "botocore"}  # provided by the Lambda runtime


def _make() -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    return make


def _scratch_copy(layer_dir: Path, work: Path) -> Path:
    """The layer folder as SAM builds it: a scratch copy of ContentUri."""
    source = work / "source"
    shutil.copytree(layer_dir, source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def _pip_stub(work: Path) -> tuple[Path, Path]:
    """An executable standing in for the Python the recipe runs; it writes its argv to a file."""
    argv_file = work / "pip-argv"
    stub = work / "python-stub"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{argv_file}"\n', encoding="utf-8")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return stub, argv_file


def _run_recipe(logical_id: str, source: Path, args: list[str], env: dict[str, str] | None = None) -> None:
    completed = subprocess.run(
        [_make(), f"build-{logical_id}", *args],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def _shipped(artifacts: Path) -> list[str]:
    """Every file of the library in the built layer, relative to its python/ folder."""
    root = artifacts / "python"
    return sorted(p.relative_to(root).as_posix() for p in (root / PACKAGE).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def build(layer, layer_dir, tmp_path_factory) -> dict[str, Any]:
    """Run `make build-<layer>` as SAM would, with a pip stand-in; the artifacts and pip's argv."""
    _make()
    work = tmp_path_factory.mktemp("layer-build")
    source = _scratch_copy(layer_dir, work)
    # Plant the clutter a developer's tree has.
    (source / "python" / PACKAGE / "__pycache__").mkdir()
    (source / "python" / PACKAGE / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"")
    (source / "python" / f"{PACKAGE}.egg-info").mkdir(exist_ok=True)
    stub, argv_file = _pip_stub(work)
    artifacts = work / "artifacts"
    artifacts.mkdir()
    _run_recipe(layer[0], source, [f"ARTIFACTS_DIR={artifacts}", f"PYTHON={stub}"])
    return {"artifacts": artifacts, "argv": argv_file.read_text(encoding="utf-8").splitlines()}


def test_build_lays_out_the_package_under_python(build, layer_dir):
    built = build["artifacts"] / "python" / PACKAGE
    expected = sorted(
        p.relative_to(layer_dir / "python").as_posix() for p in (layer_dir / "python" / PACKAGE).rglob("*.py")
    )
    assert (
        sorted(p.relative_to(build["artifacts"] / "python").as_posix() for p in built.rglob("*.py"))
        == expected
    )
    assert (built / "__init__.py").is_file()
    assert not list(build["artifacts"].rglob("__pycache__"))
    assert not list(build["artifacts"].rglob("*.egg-info"))
    assert not (build["artifacts"] / "python" / "python").exists()


def test_build_installs_wheels_for_the_functions_platform(build, layer, sam_template):
    _, resource = layer
    [architecture] = resource["Properties"]["CompatibleArchitectures"]
    [runtime] = resource["Properties"]["CompatibleRuntimes"]
    globals_ = sam_template["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"]) == (runtime, [architecture])

    argv = build["argv"]
    assert argv[:2] == ["-m", "pip"] and argv[2] == "install"

    def option(name: str) -> str:
        return argv[argv.index(name) + 1]

    assert option("--platform") == PLATFORMS[architecture]
    assert option("--python-version") == runtime.removeprefix("python")
    assert option("--implementation") == "cp"
    assert "--only-binary=:all:" in argv  # never build from source for the wrong CPU
    assert "--no-compile" in argv
    assert "--require-hashes" in argv  # requirements.txt is the hash-pinned lock
    assert option("--target") == str(build["artifacts"] / "python")
    assert option("-r") == "requirements.txt"


def test_build_ships_only_the_librarys_python_files(layer, layer_dir, tmp_path):
    # A developer's package folder holds more than code: a .env with credentials, notes, data.
    source = _scratch_copy(layer_dir, tmp_path)
    package = source / "python" / PACKAGE
    (package / ".env").write_text("AUTH0_CLIENT_SECRET=must-never-be-shipped\n", encoding="utf-8")
    (package / "notes.txt").write_text("scratch\n", encoding="utf-8")
    (package / "py.typed").write_text("", encoding="utf-8")
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("", encoding="utf-8")
    (package / "sub" / ".env").write_text("AUTH0_CLIENT_SECRET=must-never-be-shipped\n", encoding="utf-8")
    (package / "sub" / "sample.json").write_text("{}", encoding="utf-8")
    stub, _ = _pip_stub(tmp_path)
    artifacts = tmp_path / "artifacts"
    _run_recipe(layer[0], source, [f"ARTIFACTS_DIR={artifacts}", f"PYTHON={stub}"])

    shipped = _shipped(artifacts)
    expected = sorted(
        p.relative_to(source / "python").as_posix()
        for p in package.rglob("*")
        if p.is_file() and (p.suffix == ".py" or p.name == "py.typed")
    )
    assert shipped == expected  # the package structure, with its *.py files and py.typed only
    assert {f"{PACKAGE}/py.typed", f"{PACKAGE}/sub/__init__.py"} <= set(shipped)
    assert not [name for name in shipped if name.endswith((".env", ".txt", ".json"))]
    assert not list(artifacts.rglob(".env"))


def test_build_uses_the_python_named_in_the_environment(layer, layer_dir, tmp_path):
    # `PYTHON=python3.12 sam build`: SAM runs make with its own environment plus ARTIFACTS_DIR.
    source = _scratch_copy(layer_dir, tmp_path)
    stub, argv_file = _pip_stub(tmp_path)
    artifacts = tmp_path / "artifacts"
    _run_recipe(layer[0], source, [], env={**os.environ, "PYTHON": str(stub), "ARTIFACTS_DIR": str(artifacts)})
    argv = argv_file.read_text(encoding="utf-8").splitlines()
    assert argv[:3] == ["-m", "pip", "install"]
    assert argv[argv.index("--target") + 1] == str(artifacts / "python")
    assert (artifacts / "python" / PACKAGE / "__init__.py").is_file()


def test_build_uses_python3_by_default(layer, layer_dir, tmp_path):
    source = _scratch_copy(layer_dir, tmp_path)
    # Not PYTHON, and not the settings of a make this suite may run under (`make test`): its "w" flag
    # would make this make print "Entering directory" before the recipe.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    completed = subprocess.run(
        [_make(), "--dry-run", f"build-{layer[0]}", f"ARTIFACTS_DIR={tmp_path / 'artifacts'}"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("python3 -m pip install ")
