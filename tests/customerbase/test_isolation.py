"""customerbase must stay free of Django, django-ninja and the Cartera app."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "customerbase"
FORBIDDEN = ("django", "ninja", "cartera")


def test_no_forbidden_imports_in_source():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_import_loads_no_forbidden_module():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import customerbase, customerbase.simulate; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'ninja', 'cartera')]; "
        "assert not bad, bad; assert customerbase.__file__"
    )
    subprocess.run([sys.executable, "-c", code, str(PACKAGE.parent)], check=True)  # noqa: S603
