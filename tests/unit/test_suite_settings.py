"""The suite's own guards against a loaded CI machine: a per-test timeout and a CI hypothesis profile."""
from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import settings

from src.paths import PROJECT_ROOT


def test_every_test_has_a_generous_timeout(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed (dev extra)"
    timeout = float(pytestconfig.getini("timeout"))
    assert 300 <= timeout <= 1800, timeout  # long enough for a paper replay under load, short of CI's 90 minutes


def test_ci_profile_bounds_examples_and_has_no_deadline():
    ci = settings.get_profile("ci")
    assert ci.deadline is None
    assert 10 <= ci.max_examples <= 100
    assert settings.get_profile("dev").deadline is None


def test_ci_true_chooses_the_ci_profile():
    probe = ("import tests.conftest; from hypothesis import settings; "
             "print(settings.default.max_examples, settings.default.deadline)")
    environment = {**os.environ, "CI": "true"}
    environment.pop("HYPOTHESIS_PROFILE", None)
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(settings.get_profile("ci").max_examples), "None"]


def test_a_hung_test_fails_with_its_name(tmp_path):
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_sleeps_forever():\n    time.sleep(3600)\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "2",
                             "-c", os.devnull, str(tmp_path / "test_hang.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1, result.stdout
    assert "Timeout" in result.stdout and "test_sleeps_forever" in result.stdout
