"""Every params file validates through the one params root, and a typo names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config.base import ParamsError, read_params
from config.root import SECTIONS, Params, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]
PARAM_FILES = [ROOT / "params.yaml", *sorted((ROOT / "params").glob("*.yaml"))]


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_params_file_has_exactly_the_known_sections(path: Path) -> None:
    raw = read_params(path)
    assert set(raw) == {"seed", *SECTIONS}, f"{path.name}: unknown or missing sections"
    assert isinstance(raw["seed"], int)


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_every_section_validates_into_a_frozen_strict_model(path: Path) -> None:
    params = load_params(path)
    for name in ("seed", *SECTIONS):
        assert getattr(params, name) is not None
    for name in SECTIONS:
        model = getattr(params, name)
        assert model.model_config.get("frozen") is True, name
        assert model.model_config.get("extra") == "forbid", name


def test_root_lists_every_section_once() -> None:
    assert len(set(SECTIONS)) == len(SECTIONS)
    assert set(Params.model_fields) == {"seed", *SECTIONS}


def _raw() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_a_typo_in_a_nested_key_is_an_error_naming_it() -> None:
    raw = _raw()
    raw["data"]["columns"]["custmer_id"] = raw["data"]["columns"].pop("customer_id")
    with pytest.raises(ParamsError, match=r"data\.columns\.custmer_id"):
        parse_params(raw)


def test_a_typo_in_a_section_key_is_an_error_naming_it() -> None:
    raw = _raw()
    raw["train"]["num_leafs"] = 8
    with pytest.raises(ParamsError, match=r"train\.num_leafs"):
        parse_params(raw)


def test_an_unknown_section_is_an_error_naming_it() -> None:
    raw = _raw()
    raw["trian"] = {}
    with pytest.raises(ParamsError, match=r"trian"):
        parse_params(raw)


def test_a_missing_required_section_is_named() -> None:
    raw = _raw()
    raw.pop("risk")
    with pytest.raises(ParamsError, match=r"risk"):
        parse_params(raw)


def test_seed_must_be_an_integer() -> None:
    raw = _raw()
    raw["seed"] = "42"
    with pytest.raises(ParamsError, match=r"seed"):
        parse_params(raw)
