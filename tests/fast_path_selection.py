"""Which tests the plain-twin run needs: those whose code asks :func:`cartera.core.bulk.fast_paths`.

``make test-plain`` runs the suite again with ``CARTERA_BULK_PLAIN=1``, which changes behaviour only
where the code asks ``fast_paths()`` (cartera/core/bulk.py). A test that never asks runs exactly the
same code in both runs, so running it again proves nothing. The SQLite run, with
``CARTERA_FAST_PATH_LOG=<file>``, writes the id of every test that asked (in its set-up or its body);
the plain run, with ``CARTERA_FAST_PATH_ONLY=<file>``, runs those tests and deselects the others. When
the file is missing (the plain run started on its own), every test runs.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_asked = False
_logged: list[str] = []


def _watch_fast_paths() -> None:
    from cartera.core import bulk

    original = bulk.fast_paths

    @functools.wraps(original)
    def fast_paths() -> bool:
        global _asked
        _asked = True
        return original()

    # Modules that imported the function by name keep the original: give them the watched one too.
    for module in list(sys.modules.values()):
        if getattr(module, "fast_paths", None) is original:
            module.fast_paths = fast_paths  # type: ignore[attr-defined]


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CARTERA_FAST_PATH_LOG"):
        _watch_fast_paths()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    global _asked
    _asked = False
    yield
    if _asked:
        _logged.append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    log = os.environ.get("CARTERA_FAST_PATH_LOG")
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text("".join(f"{nodeid}\n" for nodeid in _logged))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only = os.environ.get("CARTERA_FAST_PATH_ONLY")
    if not only:
        return
    path = Path(only)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter else print
    if not path.exists():
        say(f"{path} is missing (no SQLite run before this one): every test runs")
        return
    wanted = set(path.read_text().split("\n"))
    keep = [item for item in items if item.nodeid in wanted]
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in wanted])
    items[:] = keep
    say(
        f"The plain twins change {len(keep)} tests (listed in {path}); the others run the same code as before"
    )
