"""The leak scan itself (tests/leakscan.py): it finds what it must, and only that."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from local.auth0_emulator import Auth0Emulator, known_secrets
from tests.conftest import ROOT
from tests.leakscan import describe, find_secrets


def test_the_emulator_registers_every_secret_it_is_given_or_issues():
    with Auth0Emulator() as emulator:
        emulator.add_m2m_client("leak-test-client", "leak-test-secret-0123456789", scopes=None)
        token = emulator.issue_token("leak-test-client")
        created = emulator._tenant.create_client({"name": "a client"})  # noqa: SLF001 - no HTTP needed
    assert {"leak-test-secret-0123456789", token, created["client_secret"]} <= known_secrets()


def test_find_secrets_finds_a_secret_wherever_it_is_embedded():
    index = {"s3cr3t-value": ["s3cr3t-value-0123456789"]}
    secret = "s3cr3t-value-0123456789"
    for text in (secret, f"Bearer {secret}", json.dumps({"message": f"token={secret}&x"}), f"x{secret}y",
                 f"line one\nAuthorization: Bearer {secret}\n"):
        assert find_secrets(text, index) == [secret], text
    assert find_secrets("s3cr3t-value-012345678", index) == []  # a prefix is not the secret
    assert find_secrets("", index) == [] and find_secrets("x" * 100, {}) == []
    assert secret not in describe(secret) and describe(secret).startswith("s3cr")


def _run_pytest(tmp_path, body: str) -> subprocess.CompletedProcess:
    test = tmp_path / "test_leaky.py"
    test.write_text(textwrap.dedent(body), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/token_exchange/python")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.leakscan", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(test)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


LEAKY = '''
    import json, logging, sys
    import pytest
    from local.auth0_emulator import Auth0Emulator
    from tests.leakscan import observe

    SECRET = "a-client-secret-" + "9" * 30

    def issued():
        with Auth0Emulator() as emulator:
            emulator.add_m2m_client("client", SECRET, scopes=None)
            return emulator.issue_token("client")

    def test_a_json_log_line_with_a_token():
        print(json.dumps({"level": "INFO", "message": "calling", "authorization": "Bearer " + issued()}))

    def test_a_log_record_with_the_client_secret():
        issued()
        logging.getLogger("token_exchange_enabler.auth0").warning("payload %s", {"client_secret": SECRET})

    def test_stderr():
        issued()
        sys.stderr.write("secret=" + SECRET + "\\n")

    def test_a_worker_log_line():
        observe("instance-1", json.dumps({"message": "token " + issued()}))

    @pytest.mark.prints_secrets
    def test_printing_a_secret_on_purpose():
        print("the emulator rejects", SECRET)

    def test_clean():
        issued()
        print(json.dumps({"level": "INFO", "message": "API enabled"}))
'''


def test_a_leak_fails_the_test_that_produced_it_without_showing_the_secret(tmp_path):
    done = _run_pytest(tmp_path, LEAKY)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "4 failed, 2 passed" in output, output
    for name in ("test_a_json_log_line_with_a_token", "test_a_log_record_with_the_client_secret",
                 "test_stderr", "test_a_worker_log_line"):
        assert f"test_leaky.py::{name}" in output
    assert "in log of instance-1" in output
    assert "a-client-secret-" + "9" * 30 not in output  # redacted in the failures' captured output
    assert "[LEAKED SECRET a-cl... (46 characters)]" in output
    assert "leak scan:" in output and "4 LEAK(S)" in output
