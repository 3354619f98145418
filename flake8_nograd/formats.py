"""Output formats: flake8's text, JSON, SARIF 2.1.0 (code scanning) and GitHub workflow commands."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote
from typing import Any, Dict, List

from . import __version__
from .rules import ALL_RULES

FORMATS = ("text", "json", "sarif", "github")
_ERROR_RULES = {
    "E999": "the file is not valid Python; it was not checked",
    "E902": "the file could not be read or decoded; it was not checked",
    "NG000": "an internal error of flake8-nograd on this file; please report it",
}
Record = Dict[str, Any]


def render(records: List[Record], form: str) -> str:
    return {"text": text, "json": as_json, "sarif": sarif, "github": github}[form](records)


def location(r: Record) -> str:
    """`path:line:col`, or for a notebook `nb.ipynb:cell 3:5:1` (cell, line inside it), as ruff prints it."""
    if r.get("cell"):
        return f"{r['path']}:cell {r['cell']}:{r['line']}:{r['column']}"
    return f"{r['path']}:{r['line']}:{r['column']}"


def text(records: List[Record]) -> str:
    return "".join(f"{location(r)}: {r['code']} {r['message']}\n" for r in records)


def as_json(records: List[Record]) -> str:
    """One object per finding; a notebook's also has `cell` (1-based), its lines being the cell's."""
    import json  # only for the JSON and SARIF formats: the text format does not pay for importing it

    keys = ("path", "cell", "line", "column", "end_line", "end_column", "code", "message", "fix")
    return json.dumps([{key: r[key] for key in keys if key in r} for r in records], indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(records: List[Record]) -> str:
    lines = []
    for r in records:
        level = "error" if r["code"] in _ERROR_RULES else "warning"
        if r.get("cell"):
            # A notebook: the annotation goes on the line of the .ipynb file; the cell is in the text.
            position = f"line={r.get('file_line', 1)},endLine={r.get('file_end_line', r.get('file_line', 1))}"
            message = f"{r['code']} cell {r['cell']}:{r['line']}:{r['column']}: {r['message']}"
        else:
            position = f"line={r['line']},col={r['column']},endLine={r['end_line']},endColumn={r['end_column']}"
            message = f"{r['code']} {r['message']}"
        lines.append(
            f"::{level} file={_escape_property(r['path'])},{position},title={r['code']}::{_escape_data(message)}\n"
        )
    return "".join(lines)


def _artifact(path: str) -> Dict[str, str]:
    """A relative path is relative to the checked-out repository (%SRCROOT%), as code scanning expects."""
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    # Bytes, so that a file name that is not valid UTF-8 is percent-encoded as it is on disk.
    return {"uri": quote(os.fsencode(Path(path).as_posix())), "uriBaseId": "%SRCROOT%"}


def _notebook_location(result: Dict[str, Any], r: Record) -> None:
    """In a notebook the region is the lines of the .ipynb file (what code scanning shows); the cell,
    and the line and column inside it, are in the message and in `properties`."""
    result["message"]["text"] = f"{r['code']} cell {r['cell']}:{r['line']}:{r['column']}: {r['message']}"
    result["locations"][0]["physicalLocation"]["region"] = {
        "startLine": r.get("file_line", 1),
        "endLine": max(r.get("file_end_line", 1), r.get("file_line", 1)),
    }
    result["properties"] = {
        "cell": r["cell"], "cellLine": r["line"], "cellColumn": r["column"],
        "cellEndLine": r["end_line"], "cellEndColumn": r["end_column"],
    }


def sarif(records: List[Record]) -> str:
    import json  # see as_json

    rules: List[Dict[str, Any]] = []
    index: Dict[str, int] = {}
    for rule in ALL_RULES:
        index[rule.code] = len(rules)
        rules.append(
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": f"{rule.code} {rule.name}: {rule.summary}."},
                "help": {
                    "text": f"{rule.summary}. See {rule.docs_url()}",
                    "markdown": f"{rule.summary}. See [{rule.code}]({rule.docs_url()}).",
                },
                "helpUri": rule.docs_url(),
                "defaultConfiguration": {"level": "warning"},
            }
        )
    for code, description in _ERROR_RULES.items():
        index[code] = len(rules)
        rules.append(
            {
                "id": code,
                "shortDescription": {"text": description},
                "help": {"text": description},
                "defaultConfiguration": {"level": "error"},
            }
        )
    results = []
    for r in records:
        result: Dict[str, Any] = {
            "ruleId": r["code"],
            "level": "error" if r["code"] in _ERROR_RULES else "warning",
            "message": {"text": f"{r['code']} {r['message']}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(r["path"]),
                        "region": {
                            "startLine": r["line"],
                            "startColumn": r["column"],
                            "endLine": max(r["end_line"], r["line"]),
                            "endColumn": r["end_column"],
                        },
                    }
                }
            ],
        }
        if r["code"] in index:
            result["ruleIndex"] = index[r["code"]]
        if r["end_line"] == r["line"] and r["end_column"] < r["column"]:
            del result["locations"][0]["physicalLocation"]["region"]["endColumn"]
        if r.get("cell"):
            _notebook_location(result, r)
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "flake8-nograd",
                        "version": __version__,
                        "informationUri": "https://github.com/flake8-nograd/flake8-nograd",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
