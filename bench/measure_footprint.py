"""4. Cold init, peak memory and deployable size.

Cold init: fresh interpreters (``-I -S``, the function's Lambda-like ``sys.path``; see
bench/cold_start.py) timing one import statement each; the statements take turns, so that
a change in the machine's load hits them alike, after one untimed run each (bytecode caches
written). Median of N.

Peak memory: ``VmHWM`` of each warm Lambda-like instance after it processed its share of the
token benchmark's events (or of a small run of its own when that benchmark is not selected).

Deployable size: the layer built as ``sam build`` builds it (its Makefile target: manylinux2014
aarch64 / cp312 wheels from PyPI, cached in bench/.cache), zipped with deflate level 9, plus the
function's folder zipped the same way; also without Powertools (and the packages only it
needs), i.e. with Powertools taken from its AWS-published layer instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.cold_start import _PROBE
from bench.common import CACHE_DIR, FUNCTION_DIR, PEERS, ROOT, progress
from bench.pipeline_run import run_isolated

LAYER_DIR = ROOT / "layers" / "token_exchange"
SDK_IMPORT = "from auth0.management import Auth0; from auth0.authentication import GetToken"


# --------------------------------------------------------------------------- cold init


def cold_init(runs: int, sdk_view: Path) -> dict:
    from local.layer_view import lambda_sys_path

    with tempfile.TemporaryDirectory() as work:
        sys_path = lambda_sys_path(FUNCTION_DIR, Path(work))
        probes = {
            "import boto3": ("import boto3", sys_path),
            "worker handler (import app)": ("import app", sys_path),
            "auth0-python import": (SDK_IMPORT, [*sys_path, str(sdk_view)]),
        }
        samples: dict[str, list[dict]] = {name: [] for name in probes}
        for round_ in range(runs + 1):
            for name, (statement, path) in probes.items():
                result = _probe(statement, path)
                if round_:  # round 0 warms the bytecode caches
                    samples[name].append(result)
    out = {}
    for name, results in samples.items():
        ms = [r["ms"] for r in results]
        out[name] = {"median_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1),
                     "max_ms": round(max(ms), 1), "peak_rss_mb": round(statistics.median(
                         r["maxrss_kb"] for r in results) / 1024, 1), "modules": results[-1]["modules"]}
    handler = out["worker handler (import app)"]["median_ms"]
    return {"runs": runs, "probes": out,
            "ratio_to_import_boto3": round(handler / out["import boto3"]["median_ms"], 2),
            "ratio_to_auth0_python_import": round(handler / out["auth0-python import"]["median_ms"], 2),
            "auth0_python_statement": SDK_IMPORT}


def _probe(statement: str, sys_path: list[str]) -> dict:
    env = {"PROBE_SYS_PATH": json.dumps(sys_path), "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin",
           "POWERTOOLS_SERVICE_NAME": "token-exchange-enabler", "POWERTOOLS_METRICS_NAMESPACE": "TokenExchangeEnabler"}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE.format(statement=statement)], cwd=FUNCTION_DIR,
                          env=env, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- memory


def measure_memory(quick: bool, sdk_view: Path, tokens: dict | None) -> dict:
    peers = {}
    if tokens:
        for name, result in tokens["peers"].items():
            peers[name] = result["peak_rss_mb"]
        source = f"warm instances after the token benchmark ({tokens['events']} events)"
    else:
        apis = 30 if quick else 200
        for peer in PEERS:
            progress(f"memory: {peer.label}, {apis} APIs")
            s = run_isolated(f"memory/{peer.name}", apis=apis, rate_limit="none", direct_create=True, concurrency=2,
                             timeout=300.0, **peer.pipeline_options(sdk_view))
            peers[peer.name] = max(s.get("peak_rss_mb") or [0]) or None
        source = f"warm instances after a run of {apis} APIs"
    return {"peak_rss_mb": peers, "source": source, "measure": "VmHWM (/proc/<pid>/status), largest instance"}


# --------------------------------------------------------------------------- size


def _zip_size(files: list[tuple[Path, str]]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path, name in sorted(files, key=lambda item: item[1]):
            archive.write(path, name)
    return buffer.tell()


def _files(root: Path, prefix: str = "") -> list[tuple[Path, str]]:
    return [(p, prefix + str(p.relative_to(root))) for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]


def _built_layer() -> Path:
    """The layer as SAM builds it, from the cache when requirements and recipe are unchanged."""
    key = hashlib.sha256((LAYER_DIR / "requirements.txt").read_bytes()
                         + (LAYER_DIR / "Makefile").read_bytes()).hexdigest()[:16]
    cached = CACHE_DIR / f"layer-{key}"
    if not (cached / "python").is_dir():
        progress("size: building the layer (pip: manylinux2014_aarch64 cp312 wheels from PyPI) ...")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="layer-", dir=CACHE_DIR))
        try:
            subprocess.run(["make", "-s", "-C", str(LAYER_DIR), "build-TokenExchangeLayer", f"ARTIFACTS_DIR={work}",
                            f"PYTHON={sys.executable}"], check=True, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
            shutil.rmtree(cached, ignore_errors=True)
            work.rename(cached)
            for stale in CACHE_DIR.glob("layer-*"):  # builds of older requirements
                if stale != cached:
                    shutil.rmtree(stale, ignore_errors=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    # The library is copied from the source every time: only the downloaded wheels are cached.
    library = cached / "python" / "token_exchange_enabler"
    shutil.rmtree(library, ignore_errors=True)
    shutil.copytree(LAYER_DIR / "python" / "token_exchange_enabler", library,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return cached


def _requires(dist_info: Path) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for line in (dist_info / "METADATA").read_text(errors="replace").splitlines():
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.marker is None or requirement.marker.evaluate({"extra": "", "python_version": "3.12"}):
                names.append(requirement.name)
    return names


def _distributions(site: Path) -> dict[str, tuple[Path, list[str], set[str]]]:
    """canonical name -> (dist-info, requirements, top-level paths) of what the layer holds."""
    from packaging.utils import canonicalize_name

    out: dict[str, tuple[Path, list[str], set[str]]] = {}
    for dist_info in site.glob("*.dist-info"):
        name = canonicalize_name(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0])
        tops = {dist_info.name}
        record = dist_info / "RECORD"
        if record.exists():
            tops |= {line.split(",", 1)[0].split("/", 1)[0] for line in record.read_text().splitlines() if line}
        tops.discard("..")
        out[name] = (dist_info, [canonicalize_name(r) for r in _requires(dist_info)], tops)
    return out


def _closure(dists: dict, roots: list[str]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        todo.extend(dists[name][1])
    return seen


def size() -> dict:
    layer = _built_layer()
    site = layer / "python"
    dists = _distributions(site)
    layer_files = _files(layer)
    function_files = _files(FUNCTION_DIR)
    # Powertools from its AWS-published layer: drop it and what only it needs.
    others = [n for n in dists if n != "aws-lambda-powertools"]
    only_powertools = _closure(dists, ["aws-lambda-powertools"]) - _closure(
        dists, [n for n in others if n not in _closure(dists, ["aws-lambda-powertools"])])
    dropped = set().union(*(dists[n][2] for n in only_powertools)) if only_powertools else set()
    without = [(p, name) for p, name in layer_files if name.split("/")[1] not in dropped]
    function_zip, layer_zip, lean_zip = _zip_size(function_files), _zip_size(layer_files), _zip_size(without)
    per_package = {}
    for name, (_, _, tops) in sorted(dists.items()):
        files = [(p, n) for p, n in layer_files if n.split("/")[1] in tops]
        per_package[name] = round(_zip_size(files) / 1e6, 3)
    library = [(p, n) for p, n in layer_files if n.split("/")[1] == "token_exchange_enabler"]
    per_package["token_exchange_enabler (the library)"] = round(_zip_size(library) / 1e6, 3)
    mb = 1e6
    return {
        "function_zip_kb": round(function_zip / 1e3, 1),
        "layer_zip_mb": round(layer_zip / mb, 3),
        "all_in_zip_mb": round((function_zip + layer_zip) / mb, 3),
        "all_in_unzipped_mb": round(sum(p.stat().st_size for p, _ in layer_files + function_files) / mb, 3),
        "without_powertools_zip_mb": round((function_zip + lean_zip) / mb, 3),
        "without_powertools_dropped": sorted(only_powertools),
        "zipped_mb_per_package": per_package,
        "build": "make -C layers/token_exchange build-TokenExchangeLayer (manylinux2014_aarch64, cp312); "
                 "zipfile deflate level 9; MB = 10^6 bytes",
    }


def measure_cold(quick: bool, sdk_view: Path) -> dict:
    runs = 5 if quick else 21
    progress(f"cold init: import boto3 / the worker handler / auth0-python, {runs} fresh processes each")
    return cold_init(runs, sdk_view)


def measure_size(quick: bool) -> dict:
    progress("size: layer + function, zipped")
    return size()
