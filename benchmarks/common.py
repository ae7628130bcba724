"""Helpers shared by the benchmark scripts: machine description, memory, percentiles."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from zhiwen.services.metrics import percentile

__all__ = ["machine", "percentile", "rss_mb"]


def rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model or platform.processor()}, Python {platform.python_version()}"
