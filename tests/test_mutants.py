"""CI's share of the mutation run: a fixed set of planted mutants must be killed.

Each mutant of :data:`benchmarks.mutants.CI_MUTANTS` (a window bound, the "90 days
before" bound, the population lookback, a label window one day short) is written into
a temporary copy of the repository and the window-edge tests run there; they must fail.
The unmutated copy must pass, so a red result here means a test lost its edge, not
that the copy is broken. The full run is ``python -m benchmarks.mutants``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.mutants import (
    CI_MUTANTS,
    CI_TESTS,
    MUTANTS,
    apply,
    check_imports_from,
    run_mutant,
    run_tests,
)
from benchmarks.repo_copy import copy_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = copy_repo(tmp_path_factory.mktemp("mutants") / "repo")
    check_imports_from(copy)
    return copy


def test_every_mutant_still_applies(tmp_path: Path, repo: Path) -> None:
    for mutant in MUTANTS:
        original = apply(repo, mutant)
        (repo / mutant.path).write_text(original)


def test_unmutated_copy_passes_the_edge_tests(repo: Path) -> None:
    result = run_tests(repo, CI_TESTS)
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.parametrize("name", CI_MUTANTS)
def test_planted_mutant_is_killed(repo: Path, name: str) -> None:
    mutant = next(m for m in MUTANTS if m.name == name)
    outcome = run_mutant(repo, mutant, CI_TESTS)
    assert outcome.killed, f"mutant {name} survived {CI_TESTS}:\n{outcome.tail}"
    assert (repo / mutant.path).read_text().count(mutant.old) == 1  # restored
