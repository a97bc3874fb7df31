"""The production server's settings (gunicorn.conf.py): its hooks freeze the application's
long-lived objects for the garbage collector once a worker has loaded it and after its first requests."""

from __future__ import annotations

import gc
import runpy
import types
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_loaded_and_again_after_its_first_requests(monkeypatch):
    monkeypatch.setenv("CARTERA_GC_FREEZE_AFTER", "3")
    conf = runpy.run_path(str(CONF))
    assert conf["workers"] >= 2 and conf["timeout"] == 30
    worker = types.SimpleNamespace()
    gc.unfreeze()
    try:
        conf["post_worker_init"](worker)
        loaded = gc.get_freeze_count()
        assert loaded > 1000  # the test process's modules, as a worker's application
        kept = [[] for _ in range(50)]  # tracked objects, as a request's loaded templates
        for _ in range(2):
            conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() == loaded  # not yet
        conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() >= loaded + 50  # what the first requests loaded
        frozen_again = gc.get_freeze_count()
        for _ in range(5):
            conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() == frozen_again  # once only
        assert len(kept) == 50
    finally:
        gc.unfreeze()
