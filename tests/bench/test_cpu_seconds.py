"""The benchmarks read a process's CPU time from /proc: it must grow with the work the process does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.common import cpu_seconds

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux's /proc")

# Spins for `seconds` of its own CPU time, says so, then waits on stdin (so it is still there to be read).
_SPIN = """
import sys, time
start = time.process_time()
while time.process_time() - start < float(sys.argv[1]):
    pass
print("spun", flush=True)
sys.stdin.read()
"""


def _spinner(seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SPIN, str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "spun\n"
    return proc


def test_cpu_seconds_counts_work_and_not_waiting() -> None:
    busy, idle = _spinner(0.4), _spinner(0.0)
    try:
        assert cpu_seconds(busy.pid) >= 0.35  # clock ticks are 10 ms; the spin alone is 0.4 s
        assert cpu_seconds(idle.pid) < cpu_seconds(busy.pid) - 0.2  # the same start-up, no spin
    finally:
        for proc in (busy, idle):
            proc.communicate("")
