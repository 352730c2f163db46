"""The generated feature page is current and lists every catalog feature."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.catalog import CATALOG
from features.docs import main, render_features_markdown

PAGE = Path(__file__).resolve().parents[2] / "docs" / "FEATURES.md"


def test_committed_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_features_markdown(), (
        "docs/FEATURES.md is stale: run python -m features.docs --out docs/FEATURES.md"
    )


def test_page_lists_every_feature_with_its_description() -> None:
    text = render_features_markdown()
    for feature in CATALOG:
        assert f"`{feature.name}`" in text
        assert feature.description.replace("|", "\\|") in text


def test_check_mode_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "FEATURES.md"
    stale.write_text("old\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--out", str(stale), "--check"])
    main(["--out", str(stale)])
    main(["--out", str(stale), "--check"])
