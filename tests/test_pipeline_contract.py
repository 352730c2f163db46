"""dvc.yaml is the wiring: every path a stage command names must be declared.

Guards against "artifacts linked by naming conventions" (HOUSE_STYLE, rot #1): a stage
that reads or writes a path not listed in its deps/outs/metrics/plots would not rerun
when that path changes, or would leave an output DVC does not know about.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"features", "training", "scoring", "serving"}


def _stages() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _declared(stage: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("deps", "outs", "metrics", "plots"):
        for entry in stage.get(key, []) or []:
            names.update([entry] if isinstance(entry, str) else entry.keys())
    return names


def _path_args(cmd: str) -> list[str]:
    tokens = shlex.split(cmd)
    return [t for t in tokens if "/" in t and not t.startswith("-")]


@pytest.mark.parametrize("name", sorted(_stages()))
def test_every_path_in_a_stage_command_is_declared(name: str) -> None:
    stage = _stages()[name]
    declared = _declared(stage)
    undeclared = [
        p
        for p in _path_args(stage["cmd"])
        if not any(p == d or p.startswith(d + "/") for d in declared)
    ]
    assert undeclared == [], f"stage {name} uses undeclared paths {undeclared}"


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_runs_a_package_module_and_depends_on_its_package(name: str) -> None:
    stage = _stages()[name]
    tokens = shlex.split(stage["cmd"])
    assert tokens[:2] == ["python", "-m"], f"stage {name} must run `python -m package.module`"
    package = tokens[2].split(".")[0]
    assert package in PACKAGES
    assert package in (stage.get("deps") or []), f"stage {name} must depend on folder {package}"


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_params_name_existing_sections(name: str) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section in _stages()[name].get("params", []) or []:
        assert isinstance(section, str) and section in params, (name, section)
