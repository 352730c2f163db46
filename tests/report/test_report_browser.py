"""A real browser renders the analyst report: not blank, every image decoded.

Runs Debian's headless ``chromium`` (installed by .ci/run). Skips only when chromium is
not installed on this machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
PROBE = """
<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = `images=${imgs.length} loaded=${ok.length} ` +
    `text=${document.body.innerText.trim().length}`;
  document.body.appendChild(out);
});
</script>
"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp / 'profile'}", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def loaded_images(report: Path, tmp_path: Path) -> tuple[int, int, int]:
    """(images, images decoded, characters of visible text) of ``report`` in chromium."""
    probed = tmp_path / "probed.html"
    probed.write_text(
        report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()).stdout
    found = re.search(r"images=(\d+) loaded=(\d+) text=(\d+)", dom)
    assert found, "the probe did not run: the page failed to load"
    images, loaded, text = (int(g) for g in found.groups())
    return images, loaded, text


def test_every_image_loads_in_chromium(report_path: Path, tmp_path: Path):
    images, loaded, text = loaded_images(report_path, tmp_path)
    assert images >= 6
    assert loaded == images
    assert text > 500


def test_screenshot_is_not_blank(report_path: Path, tmp_path: Path):
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", report_path.as_uri())
    pixels = imread(str(shot))[..., :3]
    assert pixels.shape[0] >= 2000
    non_white = (pixels.mean(axis=2) < 0.95).mean()
    assert non_white > 0.02, f"only {non_white:.2%} of the page is not white"
    assert np.unique(pixels.reshape(-1, 3), axis=0).shape[0] > 50  # plots, not a flat page


FONT_PROBE = """
<script>
window.addEventListener("load", async () => {
  const faces = await document.fonts.load('16px "Churn Sans SC"', "客户流失");
  const out = document.createElement("pre");
  out.id = "fontprobe";
  out.textContent = `faces=${faces.length} status=${faces.map(f => f.status).join(",")}`;
  document.body.appendChild(out);
});
</script>
"""


def test_zh_report_carries_a_font_chromium_loads(pipeline_dir: Path, tmp_path: Path):
    """The zh-CN page's embedded font (report/webfont.py) decodes in a real browser, so its
    Chinese text has glyphs where the reader has no CJK font."""
    from report import report as report_stage
    from tests.scoring.conftest import report_args, write_params

    write_params(pipeline_dir / "params_zh_browser.yaml", lang="zh-CN")
    args = report_args(pipeline_dir, "report_zh_browser.html")
    args[1] = str(pipeline_dir / "params_zh_browser.yaml")
    report_stage.main(args)
    page = (pipeline_dir / "reports" / "report_zh_browser.html").read_text(encoding="utf-8")
    probed = tmp_path / "zh.html"
    probed.write_text(page.replace("</body>", FONT_PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()).stdout
    found = re.search(r"faces=(\d+) status=([a-z,]*)", dom)
    assert found, "the font probe did not run"
    assert found.groups() == ("1", "loaded")
