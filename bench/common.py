"""What the measurements share: paths, progress on stderr, the peers and their import paths."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
CACHE_DIR = BENCH_DIR / ".cache"  # gitignored: the built layer, partial runs' results
PEERS_DIR = BENCH_DIR / "peers"
FUNCTION_DIR = ROOT / "functions" / "enable_token_exchange"
# The queue's visibility timeout in every pipeline run: the least AWS accepts for the template's
# 60 s function timeout (the template itself uses 6 x). The local pipeline's default, 10 s, lets a
# batch that is still being processed be delivered a second time.
VISIBILITY_TIMEOUT = 60

# A measurement run in a child process is given the parent's start (the monotonic clock is the
# machine's), so that its progress lines count from the same moment.
STARTED = float(os.environ.get("BENCH_STARTED") or time.monotonic())


def progress(text: str) -> None:
    """One line on stderr, with the time since the benchmark started."""
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Peer:
    """A handler with the worker's contract: the product itself, or a peer under bench/peers/."""

    name: str
    label: str
    function_dir: Path | None = None  # None: the product's own function (from template.yaml)
    needs_auth0_sdk: bool = False

    def pipeline_options(self, sdk_view: Path | None) -> dict:
        if self.function_dir is None:
            return {}
        extra = (str(sdk_view),) if self.needs_auth0_sdk and sdk_view else ()
        return {"function_dir": self.function_dir, "handler": "app.lambda_handler", "extra_sys_path": extra}


PRODUCT = Peer("product", "product (shared token cache)")
NAIVE = Peer("naive", "naive (token per invocation)", PEERS_DIR / "naive")
AUTH0_PYTHON = Peer("auth0_python", "auth0-python (token per process)", PEERS_DIR / "auth0_python",
                    needs_auth0_sdk=True)
PEERS = (PRODUCT, NAIVE, AUTH0_PYTHON)


def auth0_sdk_view(work: Path) -> Path:
    """A folder of links to auth0-python and its dependencies only, like local/layer_view.py's views.

    The dependency walk evaluates environment markers (auth0-python's tree has e.g.
    ``exceptiongroup; python_version < "3.11"``), which the layer's own walk does not need, and
    the ``.dist-info`` folders are linked too: the SDK reads its own version from its metadata.
    """
    import shutil
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    target = work / "auth0-python"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    seen: set[str] = set()
    todo = ["auth0-python"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
        base = dist.locate_file("")
        assert isinstance(base, Path)  # installed in a folder (a PathDistribution), not in a zip
        for top in {f.parts[0] for f in dist.files or []}:
            if top.endswith((".egg-info", ".pth")) or top in ("..", "__pycache__"):
                continue
            if (base / top).exists() and not (target / top).exists():
                (target / top).symlink_to(base / top)
    return target
