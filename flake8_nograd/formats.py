"""Output formats: flake8's text, JSON, SARIF 2.1.0 (code scanning) and GitHub workflow commands."""
from __future__ import annotations

import json
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


def text(records: List[Record]) -> str:
    return "".join(f"{r['path']}:{r['line']}:{r['column']}: {r['code']} {r['message']}\n" for r in records)


def as_json(records: List[Record]) -> str:
    keys = ("path", "line", "column", "end_line", "end_column", "code", "message", "fix")
    return json.dumps([{key: r[key] for key in keys} for r in records], indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(records: List[Record]) -> str:
    lines = []
    for r in records:
        level = "error" if r["code"] in _ERROR_RULES else "warning"
        lines.append(
            f"::{level} file={_escape_property(r['path'])},line={r['line']},col={r['column']},"
            f"endLine={r['end_line']},endColumn={r['end_column']},title={r['code']}::"
            f"{_escape_data(r['code'] + ' ' + r['message'])}\n"
        )
    return "".join(lines)


def _artifact(path: str) -> Dict[str, str]:
    """A relative path is relative to the checked-out repository (%SRCROOT%), as code scanning expects."""
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    # Bytes, so that a file name that is not valid UTF-8 is percent-encoded as it is on disk.
    return {"uri": quote(os.fsencode(Path(path).as_posix())), "uriBaseId": "%SRCROOT%"}


def sarif(records: List[Record]) -> str:
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
