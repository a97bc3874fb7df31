"""Helpers for the import tests: files written on the fly, jobs started from them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Uploaded files go to the test's own folder, not the project's var/."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def start_job(tmp_path):
    from cartera.imports.services import import_job_create

    def start(
        user, content: bytes | str, name: str = "clientes.csv", kind: str = "customers", encoding="utf-8"
    ):
        data = content.encode(encoding) if isinstance(content, str) else content
        return import_job_create(actor=user, upload=io.BytesIO(data), file_name=name, kind=kind)

    return start


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
