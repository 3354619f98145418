"""TEMPORARY (replaced by the projectio branch): module names of project files."""
from __future__ import annotations

import os
from typing import List


def module_names(root: str, path: str) -> List[str]:
    directory, filename = os.path.split(os.path.realpath(path))
    stem = filename[:-3]
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    names = [".".join(parts)] if parts else []
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(root))[:-3].replace(os.sep, ".")
    if relative.endswith(".__init__"):
        relative = relative[: -len(".__init__")]
    if relative not in names and not relative.startswith("."):
        names.append(relative)
    return names
