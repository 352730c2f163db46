"""dvc.yaml is the wiring: every path a stage command names must be declared.

Guards against "artifacts linked by naming conventions" (docs/architecture.md): a stage
that reads or writes a path not listed in its deps/outs/metrics/plots would not rerun
when that path changes, or would leave an output DVC does not know about.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "config",
    "ingest",
    "features",
    "bundle",
    "training",
    "scoring",
    "report",
    "alerts",
    "serving",
    "cli",
)


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


LAUNCH = ["python", "-m", "config.launch"]


def _module(cmd: str) -> str:
    """The stage module a command runs: ``python -m config.launch <package.module> ...``."""
    tokens = shlex.split(cmd)
    assert tokens[:3] == LAUNCH, f"a stage must run `python -m config.launch package.module`: {cmd}"
    return tokens[3]


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_runs_a_package_module_and_depends_on_its_package(name: str) -> None:
    stage = _stages()[name]
    package, module = _module(stage["cmd"]).split(".")
    assert package in PACKAGES
    assert module == name, f"stage {name} must run a module named after it, not {module}"
    assert package in (stage.get("deps") or []), f"stage {name} must depend on folder {package}"


def _imports(module: str) -> set[str]:
    """Project packages ``module`` imports, directly or through other project modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = ROOT / (mod.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / mod.replace(".", "/") / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            todo += [n for n in names if n.split(".")[0] in PACKAGES]
    return {m.split(".")[0] for m in seen}


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_deps_are_exactly_the_packages_it_imports(name: str) -> None:
    """A package edit reruns the stages that import it, and only those."""
    stage = _stages()[name]
    module = _module(stage["cmd"])
    deps = {d for d in stage.get("deps") or [] if d in PACKAGES}
    assert deps == _imports(module), f"stage {name}: deps {sorted(deps)}"


LAYERS = {  # package -> project packages it may import (docs/architecture.md)
    "config": {"ingest"},  # only the leaf contract module ingest.schema
    "ingest": {"config"},
    "features": {"config", "ingest"},
    "bundle": {"config", "ingest", "features"},
    "training": {"config", "ingest", "features", "bundle"},
    "scoring": {"config", "ingest", "features", "bundle"},
    "report": {"config", "ingest", "features", "bundle", "scoring"},
    "alerts": {"config", "ingest", "features", "bundle", "scoring"},
    "serving": {"config", "ingest", "features", "bundle", "scoring", "alerts"},
    "cli": set(PACKAGES) - {"cli"},
}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_down_the_pipeline(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top in PACKAGES and top != package:
                    assert top in LAYERS[package], f"{path.relative_to(ROOT)} imports {top}"


def test_config_imports_only_the_leaf_schema_of_ingest() -> None:
    for path in sorted((ROOT / "config").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ingest"):
                assert node.module in ("ingest.schema", "ingest.signal_schema"), path
    for leaf in ("schema.py", "signal_schema.py"):
        schema = ast.parse((ROOT / "ingest" / leaf).read_text(encoding="utf-8"))
        for node in ast.walk(schema):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in PACKAGES, leaf


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_400_lines(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_params_name_existing_sections_or_keys(name: str) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for entry in _stages()[name].get("params", []) or []:
        assert isinstance(entry, str), (name, entry)
        node: Any = params
        for key in entry.split("."):
            assert isinstance(node, dict) and key in node, (name, entry)
            node = node[key]
