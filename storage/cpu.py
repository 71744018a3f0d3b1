"""How many CPUs this process may really use: FAISS (storage.index) and onnxruntime size their pools by it."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

__all__ = ["cpu_budget"]


def cpu_budget() -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup v2 quota.

    OpenMP sizes its pool from the affinity mask, which in a container still shows every host core;
    oversubscribing a 2-core quota makes FAISS searches several times slower.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    return max(1, cpus)
