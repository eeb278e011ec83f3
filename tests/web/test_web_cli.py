"""``jobkit web``: safe defaults (loopback only without --auth), credentials from the
environment, a real served page. (That ``import jobkit`` loads none of the web extra is
tests/runtime/test_packaging.py's.)"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

import jobkit
from jobkit.cli import main
from jobkit.errors import ConfigError
from jobkit.web_cli import credentials, is_loopback


def test_only_loopback_addresses_count_as_local() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.4", "example.org"]))


def test_a_public_address_without_auth_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["web", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--host=0.0.0.0 is reachable from other machines: pass --auth" in err


@pytest.mark.parametrize(("env", "message"), [
    ({}, "$JOBKIT_WEB_AUTH, which is unset"),
    ({"JOBKIT_WEB_AUTH": "ops"}, "not USER:PASSWORD"),
    ({"JOBKIT_WEB_AUTH": "ops:"}, "not USER:PASSWORD"),
])
def test_auth_credentials_come_from_the_environment(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        credentials(env, "JOBKIT_WEB_AUTH")
    assert credentials({"JOBKIT_WEB_AUTH": "ops:a:b"}, "JOBKIT_WEB_AUTH") == ("ops", "a:b")


def test_bad_options_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["web", "--port", "0"]) == 2
    assert "--port=0 must be between 1 and 65535" in capsys.readouterr().err
    assert main(["web", "--live-interval", "0"]) == 2
    assert "--live-interval=0.0 must be a positive number" in capsys.readouterr().err


def test_jobkit_web_serves_the_dashboard_with_basic_auth(real_settings: jobkit.Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "JOBKIT_WEB_AUTH": "ops:s3cret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "jobkit", "web", "--port", str(port), "--auth", "--read-only",
         "--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace],
        env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"jobkit web on http://127.0.0.1:{port}/ (read-only) (basic auth)"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/queues", auth=("ops", "s3cret"))
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert response.status_code == 200 and "Read-only dashboard" in response.text
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 401
    finally:
        process.terminate()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()

