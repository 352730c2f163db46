"""Which model scores: the registry's champion when there is one, as the API serves.

``auto`` (the score stage): ``registry.model_name@champion`` if the registry has one,
else the bundle directory (the latest trained model, a candidate), said in one log
line, no traceback. ``champion`` / ``candidate``: that alias, an error naming it when
absent. Anything else: a bundle directory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bundle.model import ChurnModel
from bundle.pyfunc import load_registered_bundle
from config.tracking import repo_root, resolve_tracking_uri
from config.training import RegistryParams

logger = logging.getLogger(__name__)

ALIASES = ("champion", "candidate")


class ModelNotFound(LookupError):
    """The requested alias or directory holds no model."""


def _alias(registry: RegistryParams, which: str, check_environment: bool) -> tuple[ChurnModel, str]:
    alias = registry.champion_alias if which == "champion" else registry.candidate_alias
    uri = resolve_tracking_uri(registry.tracking_uri, repo_root(os.environ, Path.cwd()), os.environ)
    model, version = load_registered_bundle(uri, registry.model_name, alias, check_environment)
    return model, f"{registry.model_name} v{version} @{alias}"


def _directory(path: Path) -> tuple[ChurnModel, str]:
    if not path.is_dir():
        raise ModelNotFound(f"no model bundle at {path}")
    model = ChurnModel.load(path)
    version = model.metadata.get("model_version") or "unregistered"
    alias = model.metadata.get("alias") or "unregistered"
    return model, f"{path} (v{version}, {alias})"


def choose_model(
    which: str, model_dir: Path, registry: RegistryParams, check_environment: bool = True
) -> tuple[ChurnModel, str]:
    """The model to score with and a one-line description of it (see module docstring).

    ``check_environment``: see :func:`bundle.pyfunc.load_registered_bundle` (the score
    stage passes ``False``).
    """
    if which in ALIASES:
        if not registry.enabled:
            raise ModelNotFound(f"--model {which}: the registry is disabled in params")
        try:
            return _alias(registry, which, check_environment)
        except LookupError as exc:
            raise ModelNotFound(f"no {which} in the registry ({registry.model_name})") from exc
    if which != "auto":
        return _directory(Path(which))
    if registry.enabled:
        try:
            return _alias(registry, "champion", check_environment)
        except LookupError:
            logger.info("no champion yet: scoring with the latest trained model in %s", model_dir)
    return _directory(model_dir)
