"""What machine a benchmark ran on, for the header of each results table."""

from __future__ import annotations

import contextlib
import os
import platform
from typing import Any


def _first_field(path: str, prefix: str) -> str:
    with contextlib.suppress(OSError), open(path) as fh:
        for line in fh:
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return ""


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far, from ``/proc`` (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, RAM (GiB), operating system and Python version."""
    mem = _first_field("/proc/meminfo", "MemTotal:").split()
    mem_kib = int(mem[0]) if mem else 0
    return {
        "cpu": _first_field("/proc/cpuinfo", "model name") or "?",
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
