"""The one exception type ingestion raises for a bad file."""

from __future__ import annotations

from pathlib import Path


class LoadError(Exception):
    """A file that cannot be indexed, with a reason a person can act on.

    The pipeline catches it per file, reports ``{path, reason}`` and goes on
    with the rest of the batch, so one bad upload never costs the others.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")
