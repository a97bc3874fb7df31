"""Every message the code and templates ask for has a Spanish text in the catalogue.

The catalogue is edited by hand (several people append to it at once), so a message can be missed,
or added in a form the templates never look up: ``{% translate %}`` doubles a ``%`` before the
lookup, so "20% of" must be catalogued as "20%% of". Here ``makemessages`` runs on a copy of the
code and the result must have no untranslated and no fuzzy (changed) entry.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


MSGATTRIB = shutil.which("msgattrib")


@pytest.mark.skipif(MSGATTRIB is None, reason="GNU gettext is not installed")
def test_every_message_has_a_spanish_text(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "cartera", tmp_path / "cartera", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    subprocess.run(
        [
            sys.executable,
            "../manage.py",
            "makemessages",
            "-l",
            "es",
            "--no-obsolete",
            "--ignore=locale",
            "-v0",
        ],
        cwd=tmp_path / "cartera",
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "CARTERA_VAR_DIR": str(tmp_path / "var")},
    )
    catalogue = tmp_path / "cartera/locale/es/LC_MESSAGES/django.po"
    missing = []
    for option in ("--untranslated", "--only-fuzzy"):
        out = subprocess.run(  # noqa: S603 (our own tool on our own file)
            [str(MSGATTRIB), option, "--no-wrap", str(catalogue)], check=True, capture_output=True, text=True
        ).stdout
        missing += [line for line in out.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
    assert not missing, f"{len(missing)} messages have no Spanish text in the catalogue: {missing[:10]}"
