"""The report tests share the scoring tests' synthetic pipeline workspace."""

from tests.scoring.conftest import (  # noqa: F401  (fixtures, registered by import)
    model,
    pipeline_dir,
    report_path,
    snapshot,
    train_frame,
)
