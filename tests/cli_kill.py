"""Kill a papersift command with SIGKILL when its progress reaches a given line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def kill_at(args: list[str], env: dict[str, str], progress: str) -> None:
    """Run `papersift ARGS`; SIGKILL it as soon as a stderr line starts with `progress`
    (its progress lines come one per committed batch)."""
    proc = subprocess.Popen([sys.executable, "-m", "papersift", *args],
                            env=os.environ | env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(progress):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(60)
