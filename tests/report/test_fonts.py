"""Chinese glyphs in the report's plots without any system CJK font (report/fonts)."""

from __future__ import annotations

import re
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager

from features.wording import FAMILY_LABELS, FEATURE_LABELS, RISK_LEVEL_LABELS, TIER_LABELS
from report import plots
from report.build import TEXT

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3400-\u9fff]")


def _chinese_in_project() -> set[str]:
    """Every Chinese character in the code, params, templates and notebook."""
    files = subprocess.run(
        ["git", "ls-files", "*.py", "*.yaml", "*.j2", "*.ipynb"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert files
    return {c for f in files for c in CJK.findall((ROOT / f).read_text(encoding="utf-8"))}


def test_the_shipped_font_has_every_chinese_character_of_the_project() -> None:
    cmap = TTFont(plots.SHIPPED_FONT).getBestCmap()
    used = _chinese_in_project()
    assert len(used) > 100  # the wording tables alone hold more
    missing = sorted(c for c in used if ord(c) not in cmap)
    assert not missing, f"rebuild report/fonts (README there) for: {''.join(missing)}"


@pytest.fixture
def no_system_fonts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """matplotlib with its own fonts only, as on a machine without CJK fonts."""
    original = font_manager.findSystemFonts

    def mpl_fonts_only(fontpaths: object = None, fontext: str = "ttf") -> list[str]:
        return original(fontpaths, fontext) if fontpaths else []

    monkeypatch.setattr(font_manager, "findSystemFonts", mpl_fonts_only)
    monkeypatch.setattr(font_manager, "fontManager", font_manager.FontManager())
    yield


def _zh_chart() -> list[str]:
    """Render a zh-CN bar chart of every label the report draws; the warnings raised."""
    tables = (FEATURE_LABELS, TIER_LABELS, RISK_LEVEL_LABELS)
    labels = [zh for table in tables for _, zh in table.values()]
    labels += [zh for _, zh in FAMILY_LABELS.values()]
    labels += [v for v in TEXT["zh-CN"].values() if CJK.search(v)]  # titles, axis labels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = np.arange(len(labels), dtype=float)
        plots.bar_chart(labels, values, "主要流失原因", "影响（百分点）")
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_zh_plots_draw_chinese_with_no_system_cjk_font(no_system_fonts: None) -> None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    assert not names & set(plots.CJK_FONTS), "system CJK fonts were not hidden"
    family = plots.font_family()
    assert family == [plots.SHIPPED_FAMILY, "DejaVu Sans"]
    assert _zh_chart() == []


def test_without_the_shipped_font_the_same_chart_misses_glyphs(
    no_system_fonts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: DejaVu Sans alone has no Chinese glyph."""
    monkeypatch.setattr(plots, "font_family", lambda: ["DejaVu Sans"])
    assert any("Glyph" in m for m in _zh_chart())
