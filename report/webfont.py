"""The shipped CJK font, cut down to the Chinese characters of one page, as CSS.

The report's plots carry their own glyphs (PNG); its headings, tables and sentences are
drawn by the reader's browser, which shows boxes on a machine without a CJK font. A
zh-CN page therefore embeds the subset of ``report/fonts`` it uses (a few hundred
characters, tens of KB) as an ``@font-face`` the page's font list falls back to after
the system fonts. A page without Chinese embeds nothing.
"""

from __future__ import annotations

import base64
import io
import re

from fontTools import subset
from fontTools.ttLib import TTFont

from report.plots import SHIPPED_FAMILY, SHIPPED_FONT

# CJK punctuation, ideographs (extension A and the unified block), full-width forms
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def font_face(page: str) -> str:
    """An ``@font-face`` rule for :data:`SHIPPED_FAMILY` with the Chinese glyphs of ``page``.

    Deterministic (no timestamps), so the same page embeds the same bytes.
    """
    chars = sorted(set(CHINESE.findall(page)))
    if not chars:
        return ""
    font = TTFont(SHIPPED_FONT, recalcTimestamp=False)
    options = subset.Options()
    options.flavor = "woff"  # zlib only (woff2 needs brotli)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(chars))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'@font-face {{ font-family: "{SHIPPED_FAMILY}"; '
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}'
    )


def with_font_face(html: str) -> str:
    """``html`` with :func:`font_face` of its own text put first in its ``<style>``."""
    rule = font_face(html)
    return html.replace("<style>", f"<style>\n  {rule}", 1) if rule else html
