"""Wiring shared by every stage entry point: path arguments and logging.

Each DVC stage's ``main(argv)`` takes ``--params`` plus one required ``--<name>`` path per
file it reads or writes, so the command line in ``dvc.yaml`` lists every path.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from rich.logging import RichHandler


def stage_args(
    argv: Sequence[str] | None, doc: str | None, *paths: str, optional: Sequence[str] = ()
) -> argparse.Namespace:
    """Parse ``--params`` (default ``params.yaml``) and a required ``--<p>`` for each path.

    ``optional`` paths may be left out (None): ``dvc.yaml`` always passes them.

    ``doc`` is the stage module's docstring; its first line becomes the description.
    """
    description = (doc or "").strip().splitlines()[0] if doc and doc.strip() else None
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    for name in paths:
        parser.add_argument(f"--{name}", type=Path, required=True)
    for name in optional:
        parser.add_argument(f"--{name}", type=Path, default=None)
    return parser.parse_args(argv)


def setup_logging(level: int = logging.INFO) -> None:
    """Readable progress logs for a stage run from the command line or DVC."""
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(show_path=False)])
