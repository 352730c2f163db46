"""The MLflow pyfunc wrapper of the churn bundle, and loaders for the registry.

It lives in ``bundle`` (not ``training``) so serving can load a registered model
without importing training code. The registered artifact is the bundle directory
written by :meth:`bundle.model.ChurnModel.save`; ``predict`` returns the calibrated
churn probability per row.
"""

from __future__ import annotations

from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.pyfunc import PythonModel

from bundle.model import BundleError, ChurnModel

BUNDLE_ARTIFACT = "bundle"


class ChurnPyfunc(PythonModel):
    """pyfunc model: feature frame (catalog columns) -> ``churn_probability``."""

    def __init__(self) -> None:
        self.model: ChurnModel | None = None

    def load_context(self, context: Any) -> None:
        """Load the bundle that MLflow unpacked from the ``bundle`` artifact."""
        self.model = ChurnModel.load(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Calibrated churn probability for each row of ``model_input``."""
        if self.model is None:
            raise RuntimeError("ChurnPyfunc.predict called before load_context")
        frame = pd.DataFrame(model_input)
        return pd.DataFrame(
            {"churn_probability": self.model.predict_proba(frame)}, index=frame.index
        )


def model_uri(model_name: str, alias: str) -> str:
    """``models:/<name>@<alias>``."""
    return f"models:/{model_name}@{alias}"


def load_registered_bundle(
    tracking_uri: str,
    model_name: str = "churn-lgbm",
    alias: str = "champion",
    check_environment: bool = True,
) -> tuple[ChurnModel, str]:
    """Load the bundle of ``model_name@alias`` and return it with its version.

    The bundle's metadata gets ``model_version`` and ``alias`` set from the registry,
    so a caller always reports the version it actually serves, and ``gate`` from the
    version's ``gate`` tag: the gate decides after the bundle was logged, so the
    registered copy of ``bundle.json`` cannot hold the decision.

    ``check_environment``: MLflow compares the version's logged requirements and Python
    version with this environment and warns on a mismatch (the API server and the CLI
    keep this). The pipeline's own stages, which run in the environment the project
    pins, pass ``False``: the comparison scans every installed distribution (about 1.7 s
    per load), and the bundle's own format check (:class:`BundleError`) still applies.

    Raises
    ------
    LookupError
        When the registry has no version under ``alias`` (e.g. no champion yet).
    """
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException as exc:
        raise LookupError(f"no version of {model_name!r} has alias {alias!r}: {exc}") from exc
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(
            f"models:/{model_name}/{version.version}", suppress_warnings=not check_environment
        )
    except BundleError:
        raise
    except Exception as exc:  # e.g. a version logged by a release whose classes moved
        raise BundleError(
            f"{model_name} v{version.version} cannot be loaded by this code "
            f"({type(exc).__name__}: {exc}); retrain with `dvc repro train` and promote the "
            "new version"
        ) from exc
    wrapper = pyfunc.unwrap_python_model()
    if not isinstance(wrapper, ChurnPyfunc) or wrapper.model is None:
        raise LookupError(f"{model_name} v{version.version} is not a churn bundle model")
    updates: dict[str, Any] = {"model_version": str(version.version), "alias": alias}
    gate = (getattr(version, "tags", None) or {}).get("gate")
    if gate is not None:
        updates["gate"] = gate
    return wrapper.model.with_metadata(**updates), str(version.version)
