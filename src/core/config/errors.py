"""Errors a user can fix by editing a file or a flag.

Each carries where the problem is (file and key) so the command line can print
one line and exit with code 2 instead of a traceback.
"""
from __future__ import annotations

from pathlib import Path


class UserInputError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class ConfigError(UserInputError):
    def __init__(self, file: str | Path, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: {key}: {problem}" if key else f"{self.file}: {problem}")
