"""The project index (work in progress: every context is empty until the index is built)."""
from __future__ import annotations

from typing import Optional, Sequence

from ..config import Config


class ProjectContext:
    """What the analysis of one module may ask about the rest of its project."""

    def __init__(self, module: str) -> None:
        self.module = module


class ProjectIndex:
    def __init__(self, root: str) -> None:
        self.root = root

    @classmethod
    def build(cls, root: str, files: Sequence[str], config: Config, cache: object) -> "ProjectIndex":
        """The index of `files` (real paths under `root`), read from `cache` where it is current."""
        return cls(root)

    def context_for(self, path: str) -> Optional[ProjectContext]:
        """The context for the module at `path`, or None when it is not part of the project."""
        return None
