"""The base of the params models: frozen, typo-proof, and how the file is read.

Stages parse the whole file once through :func:`config.root.load_params` in ``main()``
and pass the section models down; nothing deeper reads YAML. :func:`load_section`
validates one section on its own (tests and benchmarks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Frozen(BaseModel):
    """Base for params models: immutable, and a typo in a key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ParamsError(ValueError):
    """params.yaml is unreadable or a section does not validate."""


def read_params(path: str | Path) -> dict[str, Any]:
    """Read the whole params file as a mapping."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ParamsError(f"cannot read params file {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ParamsError(f"params file {path} must hold a mapping of sections")
    return loaded


def load_section(raw: dict[str, Any], name: str, model: type[M]) -> M:
    """Validate section ``name`` of ``raw`` into ``model``, naming any bad key."""
    if name not in raw:
        raise ParamsError(f"params.yaml has no '{name}' section")
    try:
        return model.model_validate(raw[name])
    except ValidationError as exc:
        problems = "; ".join(
            f"{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ParamsError(f"invalid params: {problems}") from exc
