"""The reference tables of docs/serving.md, generated from the code that defines them.

Reason codes come from :data:`scoring.reasons.REASON_CODES` / ``PROTECTIVE_CODES`` and the
feature catalog, rule codes from :data:`bundle.rules.RULES`, error codes from
:data:`serving.errors.ERROR_CODES`; so the integrator docs cannot drift from what the API
returns. ``python -m serving.reference --doc docs/serving.md`` rewrites the generated block;
``--check`` fails when it is stale (a test runs the check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bundle.rules import RULES, RULES_VERSION
from features.catalog import CATALOG, Family
from features.reason_codes import (
    PROTECTIVE_CODES,
    REASON_CODE_LABELS,
    REASON_CODES,
    REASON_CODES_VERSION,
)
from serving.errors import ERROR_CODES

BEGIN = "<!-- BEGIN GENERATED: python -m serving.reference --doc docs/serving.md -->"
END = "<!-- END GENERATED -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reason_table() -> list[str]:
    """One row per reason code: family, protective twin, features and an example sentence."""
    lines = [
        f"### Reason codes (version {REASON_CODES_VERSION})",
        "",
        "| code | name (en / zh-CN, the reason's `name`) | protective code | family "
        "| features (driving feature is named per reason) "
        "| sentence template of the first feature (en / zh-CN; each feature has its own) |",
        "|---|---|---|---|---|---|",
    ]
    for family in Family:
        members = [f for f in CATALOG if f.family == family]
        names = ", ".join(f"`{f.name}`" for f in members)
        first = members[0]
        sample = f"{_cell(first.template_en)} / {_cell(first.template_zh)}"
        code = REASON_CODES[family]
        name = " / ".join(REASON_CODE_LABELS[code])
        lines.append(
            f"| `{code}` | {name} | `{PROTECTIVE_CODES[family]}` | {family.value} "
            f"| {names} | {sample} |"
        )
    return lines


def rule_table() -> list[str]:
    """One row per vendor rule code."""
    lines = [
        f"### Rule codes (`triggered_rules`, version {RULES_VERSION})",
        "",
        "| code | features read | sentence (en / zh-CN) |",
        "|---|---|---|",
    ]
    for rule in RULES:
        reads = ", ".join(f"`{c}`" for c in rule.requires)
        lines.append(
            f"| `{rule.code}` | {reads} | {_cell(rule.template_en)} / {_cell(rule.template_zh)} |"
        )
    return lines


def error_table() -> list[str]:
    """One row per stable ``error.code``."""
    lines = ["### Error codes", "", "| HTTP | error.code | meaning |", "|---|---|---|"]
    for code, (status, meaning) in sorted(ERROR_CODES.items(), key=lambda kv: (kv[1][0], kv[0])):
        lines.append(f"| {status} | `{code}` | {meaning} |")
    return lines


def generated_block() -> str:
    """The markdown between the markers."""
    parts = [BEGIN, "", *reason_table(), "", *rule_table(), "", *error_table(), "", END]
    return "\n".join(parts)


def refresh(text: str) -> str:
    """``text`` with its generated block replaced by the current one."""
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + generated_block() + text[stop:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the generated block of ``--doc``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, required=True)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = args.doc.read_text(encoding="utf-8")
    fresh = refresh(text)
    if args.check:
        if fresh != text:
            sys.stderr.write(
                f"{args.doc} is stale: run python -m serving.reference --doc {args.doc}\n"
            )
            return 1
        return 0
    args.doc.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
