"""`dvc plots show` writes a page that loads nothing from outside (vendor/vega) and draws
every plot of dvc.yaml with its title, axis labels and one colour per model."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.repo_copy import copy_repo, pipeline_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# attributes and CSS that make a browser fetch something
LOADS = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?([^"'\s>]+)"""
    r"""|@import\s+(?:url\()?["']?([^"')\s;]+)|url\(\s*["']?(https?:[^"')\s]+)""",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def plots_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The HTML of `dvc plots show` in a copy of the repository (its committed curves)."""
    repo = copy_repo(tmp_path_factory.mktemp("plots") / "repo")
    out = repo.parent / "out"
    dvc = str(Path(sys.executable).parent / "dvc")
    run = subprocess.run(
        [dvc, "plots", "show", "-o", str(out)],
        cwd=repo, env=pipeline_env(repo), capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return (out / "index.html").read_text(encoding="utf-8")


def _specs(page: str) -> list[dict]:
    """The Vega-Lite spec passed to each vegaEmbed call."""
    found = re.findall(r"var spec = (\{.*?\});\s*vegaEmbed\(", page, re.DOTALL)
    return [json.loads(s) for s in found]


def test_the_page_loads_no_external_resource(plots_page: str) -> None:
    # markup only: script bodies (the inlined libraries, the specs) are checked apart
    markup = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1</script>", plots_page, flags=re.DOTALL)
    assert markup.count("<script") == plots_page.count("<script") > 3
    loads = [next(g for g in m.groups() if g) for m in LOADS.finditer(markup)]
    assert loads == [], loads
    # the three libraries are inlined from vendor/vega (versions in its README)
    for banner in ("vega@5.33.1", "vega-lite@5.23.0", "vega-embed@6.29.0"):
        assert f"/* {banner} from the npm registry" in plots_page, banner
    assert "cdn.jsdelivr" not in plots_page
    for spec in _specs(plots_page):
        assert "url" not in spec.get("data", {}), "a plot loads its data from a URL"


def test_every_plot_has_a_title_axis_labels_and_a_colour_per_model(plots_page: str) -> None:
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    specs = _specs(plots_page)
    assert len(specs) == len(declared)
    by_title = {s["title"]["text"]: s for s in specs}
    for entry in declared:
        (props,) = entry.values()
        spec = by_title[props["title"]]
        enc = spec["encoding"]
        assert enc["x"]["title"] == props["x_label"]
        assert enc["y"]["title"] == props["y_label"]
        assert enc["color"]["field"] == "filename"  # model, LR, BG/NBD... one colour each
        models = {row["filename"] for row in spec["data"]["values"]}
        assert {"model.csv", "logreg.csv", "bgnbd.csv"} <= models
        assert set(enc["color"]["scale"]["domain"]) >= models


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_draws_every_plot_with_the_network_cut(plots_page: str, tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text(plots_page, encoding="utf-8")
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
        "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    drawn = len(re.findall(r"<canvas\b", dom)) + len(re.findall(r'<svg[^>]*class="marks"', dom))
    assert drawn == len(_specs(plots_page)), dom[-2000:]
