"""docs/serving.md's generated reference tables match the code."""

from __future__ import annotations

from pathlib import Path

from bundle.rules import RULE_CODES
from features.reason_codes import REASON_CODES
from serving.errors import ERROR_CODES
from serving.reference import generated_block, main

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def test_doc_is_current() -> None:
    assert main(["--doc", str(DOC), "--check"]) == 0


def test_block_lists_every_code() -> None:
    block = generated_block()
    for code in [*REASON_CODES.values(), *RULE_CODES, *ERROR_CODES]:
        assert f"`{code}`" in block
