"""MLflow tracking and registration of a trained churn bundle.

The tracking URI comes from ``MLFLOW_TRACKING_URI`` when set, else from
``registry.tracking_uri`` (default ``sqlite:///mlflow.db``); a relative SQLite path is
resolved against the repository root (:func:`config.tracking.repo_root`: DVC's
``DVC_ROOT``, so temp and queued experiments log to the same store), never against the
working directory.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from bundle.model import ChurnModel, bundle_digest
from bundle.pyfunc import BUNDLE_ARTIFACT, ChurnPyfunc
from config.tracking import resolve_tracking_uri
from config.training import RegistryParams

__all__ = ["flatten", "log_and_register", "resolve_tracking_uri"]

logger = logging.getLogger(__name__)

_SQLITE = "sqlite:///"
DIGEST_TAG = "bundle_digest"
_REQUIREMENTS = ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "mlflow", "pydantic")


def _experiment_id(client: MlflowClient, name: str, uri: str) -> str:
    """Get or create the experiment; with SQLite, artifacts go next to the database."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if uri.startswith(_SQLITE):
        location = (Path(uri[len(_SQLITE) :]).parent / "mlartifacts").as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def _requirements() -> list[str]:
    out = []
    for name in _REQUIREMENTS:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def flatten(prefix: str, tree: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dict -> ``a.b.c`` keys (MLflow params and metrics are flat)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(name, value))
        else:
            out[name] = value
    return out


def reusable_version(client: MlflowClient, name: str, digest: str) -> str | None:
    """The latest version of ``name`` when its bundle digest is ``digest``, else None."""
    try:
        found = client.search_model_versions(
            f"name = '{name}'", order_by=["version_number DESC"], max_results=1
        )
    except MlflowException:  # no registered model yet
        return None
    if found and found[0].tags.get(DIGEST_TAG) == digest:
        return str(found[0].version)
    return None


def log_and_register(
    uri: str,
    registry: RegistryParams,
    bundle_dir: Path,
    model: ChurnModel,
    example: pd.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    tags: Mapping[str, str],
    figures: list[Path],
    documents: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """Log one training run and register the bundle as ``registry.model_name``.

    The bundle is verified (manifest digests) before anything is logged, and the
    version is registered only after every artifact of the run is logged. When the
    latest version holds the same bundle (:func:`bundle.model.bundle_digest`, kept as
    the ``bundle_digest`` version tag), that version is reused and none is added. An
    exception, or a SIGINT/SIGTERM turned into one (:func:`fail_runs_on_signals`),
    ends the run as FAILED.

    Returns ``(run_id, model_version)``.
    """
    digest = bundle_digest(bundle_dir)  # raises BundleError for a partial bundle
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = _experiment_id(client, registry.experiment, uri)
    numeric = {k: float(v) for k, v in flatten("", metrics).items() if isinstance(v, int | float)}
    # Features are declared float64 (integers would reject missing values at serving).
    example = example.astype("float64")
    signature = infer_signature(
        example, pd.DataFrame({"churn_probability": model.predict_proba(example)})
    )
    try:
        with signals_deferred():  # the RUNNING run is noted before a signal ends the stage
            active = mlflow.start_run(experiment_id=experiment_id)
            TERMINATION.update(run_id=active.info.run_id, uri=uri)
    except Terminated:
        mlflow.end_run("FAILED")  # else MLflow's exit hook would end it FINISHED
        raise
    with active as run:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", params).items()})
        mlflow.log_metrics(numeric)
        mlflow.set_tags({**tags, DIGEST_TAG: digest})
        for fig in figures:
            mlflow.log_artifact(str(fig), artifact_path="plots")
        for name, document in (documents or {}).items():
            mlflow.log_dict(document, name)
        reused = reusable_version(client, registry.model_name, digest)
        if reused is not None:
            mlflow.set_tag("reused_model_version", reused)
            model_version = reused
        else:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ChurnPyfunc(),
                artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
                signature=signature,
                input_example=example,
                pip_requirements=_requirements(),
            )
            with signals_deferred():  # a version exists only for a FINISHED run
                registered = mlflow.register_model(
                    info.model_uri, registry.model_name, tags={DIGEST_TAG: digest}
                )
                mlflow.end_run()
            model_version = str(registered.version)
    verb = "reused" if reused is not None else "registered"
    logger.info(
        "MLflow run %s %s %s v%s", run.info.run_id, verb, registry.model_name, model_version
    )
    return run.info.run_id, model_version


#: The signal that ended training (None while running) and the MLflow run left open.
TERMINATION: dict[str, Any] = {"signum": None, "run_id": None, "uri": None, "deferred": False}


def end_open_run_failed(attempts: int = 50, pause: float = 0.2) -> str | None:
    """End the run a signal interrupted as FAILED, retrying while SQLite is locked.

    Returns the run's final status (``FAILED``, or ``FINISHED`` when the run had ended
    before the signal took effect; ``None`` without a run), or ``"unknown"`` when the
    store stayed locked. The signal can land inside one of MLflow's own store
    transactions; the run's end then meets ``database is locked`` until that
    interrupted connection is released, which needs the interrupted frames gone: call
    this outside the ``except`` block that caught the signal (its traceback keeps them
    alive; each locked attempt waits on SQLite's busy timeout, 20 s or more).
    """
    run_id, uri = TERMINATION["run_id"], TERMINATION["uri"]
    if run_id is None or uri is None:
        return None
    for _ in range(attempts):
        gc.collect()  # closes the interrupted session's connection
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            status = str(client.get_run(run_id).info.status)
            if status == "RUNNING":
                client.set_terminated(run_id, "FAILED")
                status = "FAILED"
            return status
        except MlflowException:
            time.sleep(pause)
    return "unknown"


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold a SIGINT/SIGTERM (:func:`fail_runs_on_signals`) until the block ends, then
    raise it: the store changes inside (a run started and noted, a version registered
    and its run ended) happen together or not at all."""
    before = TERMINATION["signum"]  # a signal of an earlier block was raised there
    TERMINATION["deferred"] = True
    try:
        yield
    finally:
        TERMINATION["deferred"] = False
    if before is None and TERMINATION["signum"] is not None:
        raise Terminated(TERMINATION["signum"])


class Terminated(BaseException):
    """SIGTERM/SIGINT arrived: unwinds like KeyboardInterrupt so open runs end FAILED."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signal.Signals(signum).name}")
        self.signum = signum


def fail_runs_on_signals() -> None:
    """Make SIGTERM and SIGINT raise :class:`Terminated` in the main thread.

    The default SIGTERM kills the process on the spot, leaving the MLflow run RUNNING
    forever; raised as an exception it passes through ``with mlflow.start_run()``,
    which ends the run FAILED.
    """

    def _raise(signum: int, _frame: object) -> None:
        if TERMINATION["signum"] is None:  # a second signal while unwinding is ignored
            TERMINATION["signum"] = signum
            if not TERMINATION["deferred"]:  # else raised when the block ends
                raise Terminated(signum)

    TERMINATION.update(signum=None, run_id=None, uri=None, deferred=False)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _raise)
