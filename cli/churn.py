"""The ``churn`` command: run pipeline stages and manage the model registry.

    churn train -- --params params.yaml --snapshots ... (any stage's own arguments)
    churn promote --version 3          # operator override: make v3 the champion
    churn status                        # which versions hold candidate / champion
    churn alerts -- --params params.yaml --scores ...   # the alert worklist stage
    churn outcomes import FILE.csv      # follow-up outcomes from a CRM spreadsheet
    churn score --export new.csv --out scores.csv   # score an export with the champion
    churn summary                       # what `make run` produced and what to do next

Stage commands pass their extra arguments straight to the stage module's ``main``, so
the CLI and ``dvc.yaml`` run exactly the same code (the ``score`` stage is
``churn score-stage``; ``churn score`` scores a new export, see :mod:`cli.export`).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated

import typer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from rich.console import Console

from alerts.outcomes import ImportError_, import_outcomes
from alerts.store import open_store, resolve_db_url
from bundle.model import BundleError
from bundle.pyfunc import load_registered_bundle
from config.base import ParamsError
from config.root import load_params
from config.tracking import repo_root, resolve_tracking_uri
from config.training import RegistryParams
from training.gate import promote as promote_version

app = typer.Typer(help="Churn early-warning pipeline and model registry.", no_args_is_help=True)
console = Console()
ParamsOption = Annotated[Path, typer.Option(help="params file (registry section)")]
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
STAGES = {
    "ingest": "ingest.ingest",
    "features": "features.features",
    "train": "training.train",
    "evaluate": "training.evaluate",
    "report": "report.report",
    "score-stage": "scoring.score",
    "alerts": "alerts.alerts",
}


def _run_stage(module: str, args: list[str]) -> None:
    main = importlib.import_module(module).main
    code = main(args)
    if code:
        raise typer.Exit(code)


def _stage_command(name: str, module: str) -> None:
    def command(ctx: typer.Context) -> None:
        _run_stage(module, list(ctx.args))

    command.__doc__ = f"Run the {name} stage (python -m {module}); arguments pass through."
    app.command(name, context_settings=_PASS_THROUGH)(command)


for _name, _module in STAGES.items():
    _stage_command(_name, _module)


def _registry(params: Path) -> tuple[RegistryParams, str]:
    registry = load_params(params).registry
    uri = resolve_tracking_uri(registry.tracking_uri, repo_root(os.environ, Path.cwd()), os.environ)
    return registry, uri


@app.command()
def promote(
    version: Annotated[int, typer.Option("--version", help="registered model version")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Make VERSION the champion, overriding the gate (an explicit operator decision)."""
    registry, uri = _registry(params)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    promote_version(client, registry, str(version))
    console.print(f"[green]{registry.model_name} v{version} is now @{registry.champion_alias}[/]")


@app.command()
def status(params: ParamsOption = Path("params.yaml")) -> None:
    """Show which versions hold the candidate and champion aliases, their gate notes and
    contracts, and where PARAMS disagrees with a registered bundle (the bundle wins)."""
    try:
        registry, uri = _registry(params)
        features = load_params(params).features
    except ParamsError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        found = client.get_registered_model(registry.model_name)
    except MlflowException:
        console.print(f"no model {registry.model_name!r} registered in {uri} yet: run `make run`")
        raise typer.Exit(1) from None
    console.print(f"{registry.model_name} @ {uri}")
    for alias, version in sorted(found.aliases.items()):
        tags = client.get_model_version(registry.model_name, version).tags
        console.print(f"  @{alias}: v{version}  {tags.get('gate', '')}")
        try:
            model, _ = load_registered_bundle(uri, registry.model_name, alias)
        except (LookupError, BundleError) as exc:
            console.print(f"    [red]bundle cannot be served: {exc}[/]")
            continue
        console.print(
            f"    horizon {model.horizon_days} days, catalog {model.catalog_version}, "
            f"value tiers {model.value_tiers.model_dump()}"
        )
        for problem in model.params_mismatch(features):
            console.print(f"    [yellow]params mismatch: {problem}[/]")


outcomes_app = typer.Typer(help="Follow-up outcomes from the CRM.", no_args_is_help=True)
app.add_typer(outcomes_app, name="outcomes")


@outcomes_app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV: alert_id|customer_id, action, contacted_at, result[, note]")
    ],
    params: Annotated[Path, typer.Option(help="params file (alerts.db_url)")] = Path("params.yaml"),
) -> None:
    """Import outcomes from FILE (idempotent on alert_id + contacted_at)."""
    cfg = load_params(params).alerts
    store = open_store(resolve_db_url(cfg.db_url, params.resolve().parent))
    try:
        result = import_outcomes(store, file)
    except ImportError_ as exc:
        console.print(f"[red]not imported: {exc}[/]")
        raise typer.Exit(1) from exc
    finally:
        store.engine.dispose()
    console.print(f"{result.created} outcomes stored, {result.duplicates} already there")


ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="champion (default: what the API serves), candidate, or a bundle directory",
    ),
]


@app.command()
def score(
    export: Annotated[
        Path,
        typer.Option(
            "--export", help="the order export to score (CSV or Parquet, mapped by params)"
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="where to write: .csv (UTF-8 with BOM) or .parquet")
    ],
    params: Annotated[
        Path, typer.Option("--params", help="params file (data mapping, registry)")
    ] = Path("params.yaml"),
    model: ModelOption = "champion",
) -> None:
    """Score every customer of a new export with the champion model, without retraining.

    Ingests the export with the params' data mapping (columns, status, currency).

    Builds each customer's features as of the export's last order date.

    Scores with the chosen model and writes reasons in English and Chinese.

    Example: churn score --export data/raw/new_orders.csv --out scores.csv
    """
    from cli.export import export_scores  # heavy imports only for this command
    from ingest.source import IngestError

    try:
        result = export_scores(export, out, params, model)
    except (IngestError, LookupError, ValueError, OSError) as exc:
        console.print(f"[red]churn score failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"scored {result.rows:,} customers as of {result.as_of} with {result.model} -> {out}"
        f" ({result.quarantined:,} export rows quarantined)"
    )


@app.command()
def summary(
    root: Annotated[Path, typer.Option(help="repository the pipeline ran in")] = Path("."),
) -> None:
    """What the last pipeline run produced, model vs baselines, the gate, the next command."""
    from cli.summary import summarize

    try:
        result = summarize(root)
    except (OSError, KeyError, ValueError) as exc:
        console.print(f"[red]no complete pipeline run to summarize ({exc}): run `make run`[/]")
        raise typer.Exit(1) from None
    for line in result.lines:  # soft_wrap: one line each, however narrow the log
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"[bold]Next:[/] {result.next_command}", highlight=False, soft_wrap=True)
