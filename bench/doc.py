"""Writing one benchmark's section of docs/benchmarks.md, the same way for every benchmark; and setting
Django up for a benchmark script."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(start_mark: str, end_mark: str, block: str) -> None:
    """Put ``block`` (from ``start_mark`` to ``end_mark`` included) where the markers are in the doc, or
    append it. The file is read right before writing, so benchmarks run side by side keep each
    other's sections."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if start_mark in text and end_mark in text:
        before, rest = text.split(start_mark, 1)
        text = before + block + rest.split(end_mark, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


def django_for_bench(sqlite_name: str, database_url: str | None = None) -> None:
    """Set Django up for a benchmark script: the database ``database_url`` names, else ``DATABASE_URL``,
    else the SQLite file ``var/<sqlite_name>``; any host allowed (the test client's requests)."""
    import os

    root = DOC.parent.parent
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{root / 'var' / sqlite_name}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    (root / "var").mkdir(exist_ok=True)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
