"""Hypothesis profiles: derandomised in CI, more (random) examples nightly.

``tests/conftest.py`` calls :func:`load` before any test module is imported. The
profile comes from ``HYPOTHESIS_PROFILE``:

- ``ci`` (default): ``derandomize=True`` and no example database, so every run of
  ``make test`` draws the same examples and a red CI run is reproducible anywhere;
- ``nightly``: random seeds, the example database on, and :func:`examples` multiplies
  each test's example count by ``NIGHTLY_SCALE``
  (``HYPOTHESIS_PROFILE=nightly .venv/bin/python -m pytest -m "not browser"``).
"""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE_ENV = "HYPOTHESIS_PROFILE"
NIGHTLY_SCALE = 10


def profile() -> str:
    """The selected profile name (``ci`` unless ``HYPOTHESIS_PROFILE`` says otherwise)."""
    return os.environ.get(PROFILE_ENV, "ci")


def load() -> None:
    """Register both profiles and load the selected one."""
    settings.register_profile("ci", derandomize=True, database=None, deadline=None)
    settings.register_profile("nightly", derandomize=False, deadline=None)
    name = profile()
    if name not in ("ci", "nightly"):
        raise ValueError(f"{PROFILE_ENV}={name!r}: expected 'ci' or 'nightly'")
    settings.load_profile(name)


def examples(n: int) -> int:
    """A test's example count under the selected profile (``n`` in CI)."""
    return n * NIGHTLY_SCALE if profile() == "nightly" else n
