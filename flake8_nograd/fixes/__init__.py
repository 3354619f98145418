"""Autofix: libcst transformations that apply each rule's `Fix` by position.

Only `flake8-nograd fix` uses this package; importing it does not import libcst (the engine module
does, when a file actually has something to fix), so the check path stays as fast as flake8's.

    engine    apply_fixes(source, fixes) -> FixOutcome: locate targets, transform, re-parse
    spelling  how inserted code names torch.no_grad / enable_grad in this file, and `import torch`
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..findings import Fix

if TYPE_CHECKING:  # pragma: no cover
    from .engine import FixOutcome


def apply_fixes(source: str, fixes: Sequence[Fix]) -> "FixOutcome":
    """Apply `fixes` to `source` (text); see `engine.apply_fixes`."""
    from .engine import apply_fixes as _apply

    return _apply(source, fixes)


__all__ = ["apply_fixes"]
