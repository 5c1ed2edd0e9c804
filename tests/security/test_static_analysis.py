"""Static security checks of the product: bandit on the code, checkov on the template.

cfn-lint on the template before and after the SAM transform is in tests/template/test_template.py.

checkov cannot share .venv (it pins boto3 1.35 and packaging < 24): `make test` installs it into
.venv/checkov from requirements-checkov.lock. Run without it, the checkov test is skipped, except
under CI (CI=true), where a missing checkov is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHECKOV = Path(os.environ.get("CHECKOV") or ROOT / ".venv" / "checkov" / "bin" / "checkov")


def test_bandit_finds_nothing_in_the_product_code():
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent))
    assert bandit, "bandit is not installed: run `make venv` (it is in requirements-dev.lock)"
    done = subprocess.run(
        [bandit, "-c", "pyproject.toml", "-r", "layers", "functions", "-f", "json", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    report = json.loads(done.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert findings == [], "\n".join(findings)
    assert report["errors"] == []
    assert report["metrics"]["_totals"]["loc"] > 1000  # it did scan the product


def test_checkov_passes_the_template_offline():
    if not CHECKOV.exists():
        message = f"checkov is not installed at {CHECKOV}: `make test` (or `make security`) installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [str(CHECKOV), "--config-file", ".checkov.yaml", "--output", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}"
              for r in reports for c in r["results"]["failed_checks"]]
    assert failed == [], "\n".join(failed)
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0 and summary["passed"] > 0 and summary["resource_count"] > 10
    # Every waiver in the template says why.
    for r in reports:
        for check in r["results"]["skipped_checks"]:
            assert len((check["check_result"].get("suppress_comment") or "").strip()) > 20, check["check_id"]
    assert done.returncode == 0


def test_every_queue_is_encrypted_at_rest():
    """What the CKV_AWS_27 waiver in .checkov.yaml relies on: SSE-SQS or a KMS key on every queue."""
    from tests.template.support import load_template

    queues = {name: resource.get("Properties", {}) for name, resource in load_template()["Resources"].items()
              if resource["Type"] == "AWS::SQS::Queue"}
    assert queues
    unencrypted = [name for name, properties in queues.items()
                   if properties.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in properties]
    assert unencrypted == []
