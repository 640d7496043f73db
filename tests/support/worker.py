"""An ``etest worker`` process on the test database, as the operator runs it: used by the
outbox tests and the multi-node reliability test. It dies with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from etest.config import Settings
from tests.support.server import PEPPER, _die_with_parent

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``etest worker *args`` on the settings' database and var dir, with ``env`` added to its
    environment (e.g. the poll interval); its output goes to ``log_path``."""

    def __init__(
        self, settings: Settings, log_path: Path, env: dict[str, str], args: Sequence[str] = ()
    ) -> None:
        full_env = {
            **os.environ,
            "ETEST_DATABASE_URL": settings.database_url,
            "ETEST_SECRET_KEY": PEPPER,
            "ETEST_VAR_DIR": str(settings.var_dir),
            "ETEST_ENV": "test",
            "ETEST_LOG_LEVEL": "INFO",
            **env,
        }
        full_env.pop("ETEST_SMTP_URL", None)
        self.log_path = log_path
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from etest.cli import main; main()", "worker", *args],
                cwd=ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
