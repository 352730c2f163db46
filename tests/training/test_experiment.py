"""`dvc exp run -S train.<key>=...` trains with that value; one MLflow store per repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from config.tracking import experiment_tags, repo_root, resolve_tracking_uri
from config.training import TrainParams, TuningParams
from training.experiment import committed_section, explicit_tuning, pin_tuning, pinned_keys

GRID = (
    {"num_leaves": 2, "max_depth": 1, "min_data_in_leaf": 200},
    {"num_leaves": 4, "max_depth": 2, "min_data_in_leaf": 200},
    {"num_leaves": 4, "max_depth": 2, "min_data_in_leaf": 100},
)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_set_keys_leave_the_grid_and_duplicates_collapse() -> None:
    tuning = TuningParams(method="backtest_grid", grid=GRID)
    train = TrainParams(num_leaves=15, max_depth=4)
    pinned = pinned_keys(train, {"num_leaves": 2, "max_depth": 1})
    assert pinned == ["num_leaves", "max_depth"]
    out = pin_tuning(tuning, train, pinned)
    assert out.enabled and out.grid == ({"min_data_in_leaf": 200}, {"min_data_in_leaf": 100})
    assert out.num_leaves == (15, 15) and out.max_depth == (4, 4)
    # every grid key pinned: nothing left to choose, tuning off
    all_set = pin_tuning(tuning, train, ["num_leaves", "max_depth", "min_data_in_leaf"])
    assert not all_set.enabled


def test_nothing_set_changes_nothing() -> None:
    tuning = TuningParams(method="backtest_grid", grid=GRID)
    train = TrainParams()
    assert pinned_keys(train, train.model_dump()) == []
    assert pinned_keys(train, None) == []
    assert pin_tuning(tuning, train, []) is tuning


def test_keys_differing_from_the_committed_params_are_pinned(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    params = repo / "params.yaml"
    params.write_text(yaml.safe_dump({"train": {"num_leaves": 2, "max_depth": 1}}))
    _git(repo, "init", "-q")
    _git(repo, "add", "params.yaml")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    assert committed_section(params, "train") == {"num_leaves": 2, "max_depth": 1}
    # what `dvc exp run -S train.max_depth=4 -S train.num_leaves=15` writes
    params.write_text(yaml.safe_dump({"train": {"num_leaves": 15, "max_depth": 4}}))
    train = TrainParams(num_leaves=15, max_depth=4)
    tuning, pinned = explicit_tuning(params, train, TuningParams(grid=GRID))
    assert pinned == ["num_leaves", "max_depth"]
    assert all("num_leaves" not in e and "max_depth" not in e for e in tuning.grid)
    assert committed_section(tmp_path / "elsewhere.yaml", "train") is None


def test_relative_store_resolves_against_dvc_root_not_the_temp_workspace(tmp_path: Path) -> None:
    temp = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc"
    temp.mkdir(parents=True)
    env = {"DVC_ROOT": str(tmp_path / "repo"), "DVC_EXP_NAME": "bushy-pier"}
    root = repo_root(env, temp)
    assert root == (tmp_path / "repo").resolve()
    uri = resolve_tracking_uri("sqlite:///mlflow.db", root, env)
    assert uri == f"sqlite:///{(tmp_path / 'repo' / 'mlflow.db').resolve()}"
    assert experiment_tags(env) == {"dvc_experiment": "bushy-pier"}
    assert experiment_tags({}) == {}
    assert resolve_tracking_uri("sqlite:///x.db", root, {"MLFLOW_TRACKING_URI": "http://m"}) == (
        "http://m"
    )


def test_outside_dvc_the_git_root_of_the_working_directory(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    _git(repo, "init", "-q")
    assert repo_root({}, repo / "sub") == repo.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert repo_root({}, plain) in (plain.resolve(), tmp_path.resolve())
