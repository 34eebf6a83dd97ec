"""What can be wrong with a flow, said so an organizer can find and fix it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from bot.exceptions import PuenteError

Severity = Literal["error", "warning"]


def display_path(path: str | os.PathLike[str]) -> str:
    """The path as the person running the check typed it: relative to cwd when possible."""
    text = os.fspath(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:  # another drive on Windows
        return text
    return text if relative.startswith("..") else relative


@dataclass(frozen=True)
class Problem:
    """One finding of the checker; ``str()`` reads like a compiler message."""

    severity: Severity
    file: str
    line: int
    step_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:"
        if self.step_id:
            where += f" step '{self.step_id}':"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where} {prefix}{self.message}"


class FlowError(PuenteError):
    """A flow that must not run: ``flows/join.yaml:23: step 'ask_zip': unknown step type 'aks'``."""

    def __init__(self, file: str, line: int, step_id: str | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.step_id = step_id
        self.problem = problem
        super().__init__(str(Problem("error", file, line, step_id, problem)))

    @classmethod
    def from_problem(cls, problem: Problem) -> FlowError:
        return cls(problem.file, problem.line, problem.step_id, problem.message)
