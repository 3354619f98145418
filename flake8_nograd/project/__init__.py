"""Project-wide analysis: the modules of one code base, tied together through its own imports.

    files.py   the project root, its Python files and their module names
    cache.py   per-file entries keyed by content hash, safe under parallel workers
    index.py   ProjectIndex: each module's exported facts, combined to a fixpoint;
               ProjectContext: what one module's analysis may ask about the others
    session.py project_context(path, config): what the front ends call, the index built
               once per process and root
"""
from __future__ import annotations

from .index import ProjectContext, ProjectIndex

__all__ = ["ProjectContext", "ProjectIndex"]
