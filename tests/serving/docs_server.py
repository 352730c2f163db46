"""A real uvicorn server for the docs' curl examples: ``python -m tests.serving.docs_server``.

It serves the small synthetic model of :mod:`tests.serving.conftest` (trained in well
under a second) on a snapshot whose first customers carry the ids the docs use, so the
examples run as written without the pipeline's minutes of ``dvc repro``.
"""

from __future__ import annotations

import argparse
import tempfile

import uvicorn

from serving.app import create_app
from serving.settings import Settings
from tests.serving.conftest import SyntheticBackend, snapshot, train_model

#: Customer ids the curl examples of docs/serving.md and the README name.
DOC_IDS = ("12754", "12414")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", required=True, help="comma-separated client keys")
    parser.add_argument("--admin-key", required=True)
    args = parser.parse_args()
    snap = snapshot()
    snap.loc[: len(DOC_IDS) - 1, "customer_id"] = list(DOC_IDS)
    backend = SyntheticBackend(train_model(seed=1), snap)
    settings = Settings(
        api_keys=args.keys,
        admin_key=args.admin_key,
        startup_load="blocking",
        db_url=f"sqlite:///{tempfile.mkdtemp()}/alerts.db",
    )
    app = create_app(settings, backend_factory=lambda _: backend)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
