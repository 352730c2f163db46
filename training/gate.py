"""The promotion gate: every new version is ``candidate``; ``champion`` only if it
earns it on the same test data.

A new version becomes champion when (1) no baseline beats it on ROC-AUC, PR-AUC or
Brier, and (2) it beats the current champion, if any, on the same test cutoff:
ROC-AUC and PR-AUC both at least the champion's and one of them strictly higher.
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
) -> GateDecision:
    """Apply the gate to test metrics (pure: no registry access)."""
    failures: list[str] = []
    for name, base in baselines.items():
        for metric in ("roc_auc", "pr_auc"):
            if base[metric] > model[metric]:
                failures.append(
                    f"baseline {name} beats the model on {metric}: "
                    f"{base[metric]:.4f} > {model[metric]:.4f}"
                )
        if base["brier"] < model["brier"]:
            failures.append(
                f"baseline {name} beats the model on brier: "
                f"{base['brier']:.4f} < {model['brier']:.4f}"
            )
    if champion is not None:
        not_lower = all(model[m] >= champion[m] for m in ("roc_auc", "pr_auc"))
        higher = any(model[m] > champion[m] for m in ("roc_auc", "pr_auc"))
        if not (not_lower and higher):
            failures.append(
                "does not beat the champion on the same test data: roc_auc "
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
