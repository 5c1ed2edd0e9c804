"""The import path Lambda would give the function, built from what is installed in .venv.

Lambda puts on ``sys.path``: the function's folder, each layer's ``python/`` folder, and the
runtime's own packages (boto3, botocore and their dependencies). Locally the layer's packages
are not built into a folder of their own; instead this makes a *view*: a folder of symbolic
links to exactly the distributions ``layers/token_exchange/requirements.txt`` names and
their dependencies, resolved through ``importlib.metadata``. A package the product imports
but the layer does not list is therefore missing locally too, and fails here, not on AWS.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER_REQUIREMENTS = ROOT / "layers" / "token_exchange" / "requirements.txt"
LAYER_SOURCE = ROOT / "layers" / "token_exchange" / "python"
# What the python3.12 Lambda runtime provides to every function.
RUNTIME_PACKAGES = ("boto3",)


def _name(requirement: str) -> str:
    return re.split(r"[\s;\[<>=!~(]", requirement.strip(), maxsplit=1)[0]


def _closure(names: list[str]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for req in dist.requires or []:
            if "extra ==" in req:  # optional extras are not installed by the layer either
                continue
            todo.append(_name(req))
    return list(seen.values())


def _top_levels(dist: metadata.Distribution) -> set[str]:
    tops = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info")) or first in ("..", "__pycache__"):
            continue
        if first.endswith(".pth"):
            continue
        tops.add(first)
    return tops


def build_view(target: Path, requirement_names: list[str]) -> Path:
    """A folder with links to the given distributions (and their dependencies) only."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for dist in _closure(requirement_names):
        base = dist.locate_file("")
        assert isinstance(base, Path)  # installed in a folder (a PathDistribution), not in a zip
        for top in _top_levels(dist):
            source = base / top
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)
    return target


def layer_requirement_names() -> list[str]:
    names = []
    for line in LAYER_REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(_name(line))
    return names


def lambda_sys_path(function_dir: Path, work_dir: Path) -> list[str]:
    """The function folder, the layer (its source + a view of its requirements), the runtime."""
    layer_deps = build_view(work_dir / "layer-deps", layer_requirement_names())
    runtime = build_view(work_dir / "runtime", list(RUNTIME_PACKAGES))
    return [str(function_dir), str(LAYER_SOURCE), str(layer_deps), str(runtime)]
