"""Worker processes for the sending tests: their environment, and `python worker.py` itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.sending import process
from tests.paths import ROOT
from tests.settings import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SMS_FROM, WHATSAPP_FROM


def worker_env(
    database_url: str, redis_url: str, fake_url: str, **overrides: Any
) -> dict[str, str]:
    """Environment for a worker process (and the config for in-process runtimes)."""
    env = {
        "PUENTE_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_API_URL": fake_url,
        "SMS_RATE_PER_S": "50",
        "WHATSAPP_RATE_PER_S": "50",
        "RECONCILE_INTERVAL_S": "1",
        "SETTLE_AFTER_S": "6",  # a claimed send leaves within 3 s or never
        "LOG_LEVEL": "WARNING",
        # Workers run on the real clock: open the window all day (quiet hours have their tests).
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "24",
        "QUIET_HOURS_START_MX": "0",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def in_process(env: Mapping[str, str]) -> process.Runtime:
    """A runtime for jobs run in the test process."""
    from bot.config import from_environ

    built = process.build(from_environ(env))
    process.use(built)
    return built


def wait_until(check: Callable[[], bool], timeout_s: float = 180, what: str = "") -> None:
    """Wait for ``check``: a bound on liveness (generous: CI machines stall), not a timing test."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)


class WorkerProcess:
    """`python worker.py` in its own process group (killed whole, like a machine dying)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=full,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # not a pipe nobody reads: 64 KB of logs would block it
        )

    def kill(self) -> None:
        """SIGKILL the worker and its work horse: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
