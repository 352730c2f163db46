"""The promotion gate: every new version is ``candidate``; ``champion`` only if it
earns it on held-out data.

The gate judges the *procedure* on the rolling backtest (``training.backtest``; each
fold refits everything with the fold's own test cutoff). A new version becomes
champion when
1. its mean ROC-AUC and mean PR-AUC over the folds are higher than every baseline's
   (the paired bootstrap interval of the difference is reported alongside);
2. its mean ECE is at most ``evaluate.ece_max`` or at most the best baseline's;
3. it beats the current champion, if any: ROC-AUC and PR-AUC both at least the
   champion's and one of them strictly higher (so re-running an identical procedure
   does not churn the alias). A champion that recorded its own backtest is compared by
   those means; an older one is scored on this run's test cutoff.
Otherwise the champion stays and every failed check is reported. An operator can
override with ``churn promote --version N``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from mlflow import MlflowClient

from config.training import RegistryParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    """Whether to promote, and the checks that failed (empty when promoted)."""

    promote: bool
    failures: tuple[str, ...]

    def summary(self) -> str:
        """One plain sentence for logs and the console."""
        if self.promote:
            return "gate passed: promoted to champion"
        return "gate FAILED, not promoted: " + "; ".join(self.failures)


def decide(
    model: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    champion: Mapping[str, float] | None,
    ece_max: float = 0.05,
) -> GateDecision:
    """Apply the gate to metrics (means over the backtest folds; pure, no registry)."""
    failures: list[str] = []
    for name, base in baselines.items():
        for metric in ("roc_auc", "pr_auc"):
            if base[metric] >= model[metric]:
                failures.append(
                    f"baseline {name} is not beaten on mean {metric}: "
                    f"{base[metric]:.4f} >= {model[metric]:.4f}"
                )
    best_ece = min((b["ece"] for b in baselines.values()), default=float("inf"))
    if model["ece"] > ece_max and model["ece"] > best_ece:
        failures.append(
            f"mean ECE {model['ece']:.4f} is above evaluate.ece_max={ece_max} and above "
            f"the best baseline's {best_ece:.4f}"
        )
    if champion is not None:
        not_lower = all(model[m] >= champion[m] for m in ("roc_auc", "pr_auc"))
        higher = any(model[m] > champion[m] for m in ("roc_auc", "pr_auc"))
        if not (not_lower and higher):
            failures.append(
                "does not beat the champion: roc_auc "
                f"{model['roc_auc']:.4f} vs {champion['roc_auc']:.4f}, pr_auc "
                f"{model['pr_auc']:.4f} vs {champion['pr_auc']:.4f}"
            )
    return GateDecision(promote=not failures, failures=tuple(failures))


def current_champion(client: MlflowClient, registry: RegistryParams) -> str | None:
    """Version number holding the champion alias, or None."""
    try:
        found = client.get_registered_model(registry.model_name)
    except Exception:  # no registered model yet
        return None
    version = found.aliases.get(registry.champion_alias)
    return None if version is None else str(version)


def apply(
    client: MlflowClient, registry: RegistryParams, version: str, decision: GateDecision
) -> str:
    """Set ``candidate`` on ``version``, and ``champion`` if the gate passed.

    Returns the version's status: ``"champion"`` or ``"candidate"``.
    """
    client.set_registered_model_alias(registry.model_name, registry.candidate_alias, version)
    client.set_model_version_tag(registry.model_name, version, "gate", decision.summary()[:5000])
    if decision.promote:
        client.set_registered_model_alias(registry.model_name, registry.champion_alias, version)
        return "champion"
    logger.warning("%s v%s: %s", registry.model_name, version, decision.summary())
    return "candidate"


def promote(client: MlflowClient, registry: RegistryParams, version: str) -> None:
    """Operator override: make ``version`` the champion (it must exist)."""
    client.get_model_version(registry.model_name, version)
    client.set_registered_model_alias(registry.model_name, registry.champion_alias, version)
    client.set_model_version_tag(registry.model_name, version, "promoted_by", "operator")
    logger.info("%s v%s promoted to champion by an operator", registry.model_name, version)
