"""Value states, origins and regions as plain JSON data, so that a module's exported facts can be
cached on disk and read by the analysis of another module.

A state keeps what a caller can use: graph, kind, tags, tuple parts and the origin chain that
explains it (its lines belong to the exporting file, named by `Origin.file` once imported).
Syntax nodes are dropped: they locate nothing outside their own module.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..analysis.model import Graph, GradMode, Kind, Origin, OriginKind, Region, RegionKind, ValueState

Json = Dict[str, Any]
_MAX_DEPTH = 6  # nested tuples and origin chains deeper than this are cut (unknown / no cause)


def region_to_json(region: Region) -> Json:
    record: Json = {"mode": region.mode.value, "kind": region.kind.value}
    if region.label:
        record["label"] = region.label
    if region.line:
        record["line"] = region.line
    if region.inference:
        record["inference"] = True
    if region.function:
        record["function"] = region.function
    return record


def region_from_json(record: Json, file: str = "") -> Region:
    return Region(
        GradMode(record["mode"]),
        RegionKind(record["kind"]),
        label=record.get("label", ""),
        line=record.get("line", 0),
        inference=bool(record.get("inference", False)),
        function=record.get("function", ""),
        file=file,
    )


def origin_to_json(origin: Origin, depth: int = 0) -> Json:
    record: Json = {"kind": origin.kind.value, "line": origin.line}
    if origin.detail:
        record["detail"] = origin.detail
    if origin.region is not None:
        record["region"] = region_to_json(origin.region)
    if origin.cause is not None and depth < _MAX_DEPTH:
        record["cause"] = origin_to_json(origin.cause, depth + 1)
    return record


def origin_from_json(record: Json, file: str) -> Origin:
    cause = record.get("cause")
    region = record.get("region")
    return Origin(
        OriginKind(record["kind"]),
        record["line"],
        detail=record.get("detail", ""),
        region=region_from_json(region, file) if region is not None else None,
        cause=origin_from_json(cause, file) if cause is not None else None,
        file=file,
    )


def state_to_json(state: ValueState, depth: int = 0) -> Optional[Json]:
    """None for a state that tells a caller nothing (unknown, no tags, no parts)."""
    if depth > _MAX_DEPTH:
        return None
    record: Json = {"graph": state.graph.value}
    if state.kind is not Kind.UNKNOWN:
        record["kind"] = state.kind.value
    if state.tags:
        record["tags"] = sorted(state.tags)
    if state.origin is not None:
        record["origin"] = origin_to_json(state.origin)
    if state.elements is not None:
        parts = [state_to_json(part, depth + 1) for part in state.elements]
        record["elements"] = [part if part is not None else {"graph": Graph.UNKNOWN.value} for part in parts]
    if state.item is not None:
        item = state_to_json(state.item, depth + 1)
        if item is not None:
            record["item"] = item
    if len(record) == 1 and state.graph is Graph.UNKNOWN:
        return None
    return record


def state_from_json(record: Json, file: str) -> ValueState:
    origin = record.get("origin")
    elements = record.get("elements")
    item = record.get("item")
    return ValueState(
        Graph(record["graph"]),
        origin_from_json(origin, file) if origin is not None else None,
        tags=frozenset(record.get("tags", ())),
        elements=tuple(state_from_json(part, file) for part in elements) if elements is not None else None,
        kind=Kind(record.get("kind", Kind.UNKNOWN.value)),
        item=state_from_json(item, file) if item is not None else None,
    )
