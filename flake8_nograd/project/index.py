"""The project index: every module's export (exports.py), tied together through the project's
own imports, and what the analysis of one module may ask about the others (ProjectContext).

    build       each file's export, from the cache when its content is unchanged
    resolve     an imported name ('pkg.utils.evaluate', '.utils.evaluate', a re-export through
                `pkg/__init__.py`, a sibling script's 'utils.evaluate') -> (module, function)
    solve       each function's base grad mode from all its call sites in the project (the
                module-local rule of callers.py, project-wide: a function is grad-off only when
                every call of it is), and `self.m(...)` calls in a base class count as calls of
                every subclass's override of `m`

Code outside the project stays unknown: a name that resolves to no project module is not asked.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
from typing import Callable, Collection, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from .. import __version__
from ..analysis import WalkedModule
from ..analysis.guards import GuardEffect
from ..analysis.model import GradMode, Graph, Region, RegionKind, ValueState
from ..analysis.parameters import GRAD_REQUIRING, ArgumentUpdate
from ..config import Config
from ..findings import INTERNAL_ERROR, Finding, Fix
from ..rules import ALL_RULES

DEFAULT_CODES = frozenset(rule.code for rule in ALL_RULES if rule.default_enabled)
from .records import Json, region_from_json, region_to_json, state_from_json

FunctionKey = Tuple[str, str]  # (module name, "f" / "Class.m" / "outer.<locals>.inner")
_MAX_REEXPORT_HOPS = 8
# The build keeps the walks of at most this much source for the check (a walk holds its syntax
# tree: about 80 bytes of memory per byte of source, so some 300 MB); past it, modules are
# parsed and walked again when checked, as without walks.
_WALKED_SOURCE_BUDGET = 4_000_000


class ExternalFunction:
    """A function of another project module, as its export describes it."""

    def __init__(self, module: str, key: str, record: Json, summary: Json, file: str) -> None:
        self.name = f"{module.rpartition('.')[2]}.{key}"  # for messages: "helpers.apply_update"
        self.file = file
        self.parameters: List[str] = record.get("params", [])
        self.is_method = "." in key and "<locals>" not in key
        returns = summary.get("returns")
        self.returns: Optional[ValueState] = state_from_json(returns, file) if returns is not None else None
        self.backward: Dict[str, Tuple[int, str]] = {
            name: (line, api) for name, (line, api) in record.get("backward", {}).items()
        }
        self.updates: Dict[str, Dict[str, Tuple[ArgumentUpdate, ...]]] = {
            parameter: {binding: tuple(ArgumentUpdate(*u) for u in written) for binding, written in bindings.items()}
            for parameter, bindings in summary.get("updates", {}).items()
        }

    @property
    def informs(self) -> bool:
        """Does a caller learn anything from it (else it is as unknown as any outside function)?"""
        returns = self.returns
        known_return = returns is not None and (
            returns.graph is not Graph.UNKNOWN or returns.elements is not None or bool(returns.tags & GRAD_REQUIRING)
        )
        return known_return or bool(self.backward) or bool(self.updates)


class ModuleFacts:
    def __init__(self, name: str, path: str, display: str, key: str, entry: Json, is_package: bool) -> None:
        self.name = name
        self.key = key  # the cache key of its entry
        self.path = path
        self.display = display  # root-relative path, for messages
        self.entry = entry
        export: Json = entry["export"]
        self.export = export
        self.is_package = is_package
        self.functions: Dict[str, Json] = export.get("functions", {})
        self.classes: Dict[str, Json] = export.get("classes", {})
        self.guards: Dict[str, Json] = export.get("guards", {})
        self.reexports: Dict[str, str] = export.get("reexports", {})
        # The build's walk of its text, kept for an analysis with the project's answers (the
        # check, a summary): the walk and the questions asked while walking.
        self.walked: Optional[Tuple["WalkedModule", Json]] = None


class ProjectIndex:
    def __init__(self, root: str) -> None:
        self.root = root
        self.modules: Dict[str, ModuleFacts] = {}  # by every name the module is imported as
        self._by_path: Dict[str, ModuleFacts] = {}
        self._bases: Dict[FunctionKey, Region] = {}  # solved, where it differs from the local one
        self._based_modules: Set[str] = set()  # the modules some of whose bases are in _bases
        self._functions: Dict[FunctionKey, Optional[ExternalFunction]] = {}
        # resolve's answers once every module is in (by qualified name and importing module)
        self._resolved: Optional[Dict[Tuple[str, ModuleFacts], Optional[Tuple[ModuleFacts, str]]]] = None
        self._cache: object = None
        self._pack_key = ""
        self._dirty = False
        self._seen_version: object = None  # the pack on disk as this process last read or wrote it

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(
        cls, root: str, files: Sequence[str], config: Config, cache: object, checked: Sequence[str] = (),
        store: bool = True,
    ) -> "ProjectIndex":
        """The index of `files` (real paths under `root`), read from `cache` where it is current.
        `checked`: real paths of the files and folders whose files the caller checks next; the
        walks of those it analyses are kept for their check (ProjectContext.walked_module).
        `store=False`: what changed is written by `flush` only (no other process reads the cache
        before this one's flush: its workers, if any, inherit the index)."""
        from .files import real_module_names, real_path

        index = cls(root)
        index._cache = cache
        fingerprint = _config_fingerprint(config)
        # One cache entry for the whole project (a pack of every module's entry, by content
        # hash): read once and written once, where an entry per module cost a file creation each.
        real_root = os.path.realpath(root)
        index._pack_key = "pack-" + hashlib.sha256(real_root.encode()).hexdigest()[:24]
        load = getattr(cache, "load", None)
        index._seen_version = index._pack_version()
        pack = load(index._pack_key) if load is not None else None
        known: Dict[str, Json] = pack.get("entries", {}) if isinstance(pack, dict) else {}
        listed: List[Tuple[str, List[str]]] = []  # real path, names: the order of the index
        fresh: List[Tuple[str, str, List[str], str, bytes]] = []  # path, real path, names, key, content
        folders: Dict[str, str] = {}
        packages: Dict[str, bool] = {}
        for path in files:
            real = real_path(path, folders)
            names = real_module_names(real_root, real, packages)
            if not names:
                continue
            try:
                with open(path, "rb") as handle:
                    content = handle.read()
            except OSError:
                continue
            key = hashlib.sha256(b"\0".join((__version__.encode(), fingerprint.encode(), content))).hexdigest()
            listed.append((real, names))
            cached = known.get(key)
            if isinstance(cached, dict) and "export" in cached:
                index._add(path, real, names, key, cached)
            else:
                fresh.append((path, real, names, key, content))
        # New files analysed callees first, so that a module whose calls reach a helper that
        # informs them (the check then analyses it with the project's answers anyway) skips the
        # rules of its analysis alone: their findings would never be used.
        checked = frozenset(checked)
        budget = _WALKED_SOURCE_BUDGET
        reorder = bool(fresh)
        ordered, imported = _callees_first(fresh)
        pending = ordered[::-1]
        fresh.clear()
        while pending:  # each file's content let go once analysed
            path, real, names, key, content = pending.pop()
            facts = ModuleFacts(names[0], path, "", key, {"export": {}}, os.path.basename(path) == "__init__.py")
            walk: List[Tuple[WalkedModule, Json]] = []
            entry = _analyse(content, config, lambda callees: index._informed_by_callees(facts, callees), walk)
            if entry is not None:
                added = index._add(path, real, names, key, entry)
                index._dirty = True
                # Kept for the check (its rules were left for the project's answers) or for the
                # summaries of what other modules import from it; let go once used.
                if (
                    walk and len(content) <= budget and _under(real, checked)
                    and ("findings" not in entry or (real in imported and _summarised(entry)))
                ):
                    added.walked = walk[0]
                    budget -= len(content)
        if reorder:
            # The index itself in the order of `files`: of two modules with one name, the first wins.
            added = index._by_path
            index.modules = {}
            index._by_path = {}
            for real, names in listed:
                facts = added.get(real)
                if facts is not None:
                    index._by_path[real] = facts
                    for name in names:
                        index.modules.setdefault(name, facts)
        index._resolved = {}
        index._summarise_called(config)
        index._solve()
        index._drop_unused_walks()
        if store and index._dirty and getattr(cache, "store", None) is not None:
            index._write(index._entries())  # the caller holds the cache's lock while building
        return index

    def _add(self, path: str, real: str, names: List[str], key: str, entry: Json) -> ModuleFacts:
        prefix = os.path.join(self.root, "")
        display = path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, self.root)
        facts = ModuleFacts(names[0], path, display, key, entry, os.path.basename(path) == "__init__.py")
        self._by_path[real] = facts
        for name in names:
            self.modules.setdefault(name, facts)
        return facts

    def _informed_by_callees(self, facts: ModuleFacts, callees: List[str]) -> bool:
        """A guess, from the modules indexed so far, that the project informs the module that
        calls `callees` (a helper it calls back-propagates, updates or returns something, or is
        a guard). A wrong guess costs time, never a finding: the check analyses the module again
        with the project's answers unless none of them says anything its analysis alone lacked."""
        for callee in callees:
            target = self.resolve(callee, facts)
            if target is None or target[0] is facts:
                continue
            owner, local = target
            record = owner.functions.get(local)
            if local in owner.guards or (record and (record.get("backward") or record.get("summarise") or record.get("leaves_off"))):
                return True
        return False

    def flush(self) -> None:
        """Write the pack back when something in it changed (new entries, kept findings); only
        the entries of the modules it holds now, so edits and deletions leave nothing behind.
        Findings that other processes (parallel workers) kept since this one read the pack are
        kept too, where this process has none for that entry."""
        if not self._dirty or getattr(self._cache, "store", None) is None:
            return
        lock = getattr(self._cache, "lock", None)
        with lock("index") if lock is not None else contextlib.nullcontext():
            load = getattr(self._cache, "load", None)
            on_disk = None
            if load is not None and self._pack_version() != self._seen_version:
                on_disk = load(self._pack_key)  # another process stored the pack since
            mine = self._entries()
            for key, entry in (on_disk.get("entries", {}) if isinstance(on_disk, dict) else {}).items():
                own = mine.get(key)
                if own is not None and "informed" not in own and isinstance(entry, dict) and "informed" in entry:
                    own["informed"] = entry["informed"]
            self._write(mine)

    def _entries(self) -> Dict[str, Json]:
        return {facts.key: facts.entry for facts in self._by_path.values() if facts.key}

    def _write(self, entries: Dict[str, Json]) -> None:
        self._cache.store(self._pack_key, {"entries": entries})  # type: ignore[attr-defined]
        self._seen_version = self._pack_version()
        self._dirty = False

    def _pack_version(self) -> object:
        version = getattr(self._cache, "version", None)
        return version(self._pack_key) if version is not None else None

    def _summarise_called(self, config: Config) -> None:
        """Return states and in-place updates of the functions other modules call: the costly
        part of a summary, computed for those alone (a second analysis of their modules, once:
        the result joins the module's cache entry)."""
        wanted: Dict[str, Tuple[ModuleFacts, Set[str]]] = {}
        for facts in self._distinct_modules():
            for call in facts.export.get("calls", []):
                target = self.resolve(call["callee"], facts)
                if target is None or target[0] is facts:
                    continue
                owner, key = target
                if owner.functions.get(key, {}).get("summarise") and key not in owner.entry.get("summaries", {}):
                    wanted.setdefault(owner.key, (owner, set()))[1].add(key)
        for owner, keys in wanted.values():
            # With a context, so that guards imported from other modules count in the summaries.
            context = ProjectContext(self, owner)
            summaries = summarise_source(owner.path, sorted(keys), config, context, context.walked_module())
            if summaries is None:
                continue
            owner.entry.setdefault("summaries", {}).update(summaries)
            self._dirty = True

    def _drop_unused_walks(self) -> None:
        """Let go of the walks kept for the summaries alone: the check will not analyse their
        modules again (once the bases are solved: they may make it)."""
        for facts in self._by_path.values():
            if facts.walked is not None and "findings" in facts.entry and not ProjectContext(self, facts).analyses_again():
                facts.walked = None

    def store(self, facts: ModuleFacts) -> None:
        """A module's entry changed (findings kept for reuse were added): written by `flush`."""
        self._dirty = True

    def _distinct_modules(self) -> List[ModuleFacts]:
        return list({id(f): f for f in self.modules.values()}.values())

    def holds(self, path: str) -> bool:
        """Is `path` the real path of one of the indexed modules?"""
        return path in self._by_path

    def context_for(self, path: str) -> Optional["ProjectContext"]:
        """The context for the module at `path`, or None when it is not part of the project."""
        facts = self._by_path.get(path)  # a path the index holds is real: not resolved again
        if facts is None and ".." not in path:
            # Made absolute, a path the index holds is real too (a real path has no symlink in
            # it), unless `..` after a symlink made the two differ: not resolved either.
            path = os.path.abspath(path)
            facts = self._by_path.get(path)
        real = path if facts is not None else os.path.realpath(path)
        facts = facts or self._by_path.get(real)
        if facts is None:
            # Under the root but not an indexed module (a notebook, a file that did not parse
            # when the index was built): its imports of project modules still resolve.
            if not real.startswith(os.path.join(os.path.realpath(self.root), "")):
                return None
            stem = os.path.splitext(os.path.basename(real))[0]
            facts = ModuleFacts(stem, real, os.path.relpath(real, self.root), "", {"export": {}}, False)
        return ProjectContext(self, facts)

    # -- names ----------------------------------------------------------------------------------
    def resolve(self, qualname: str, importer: ModuleFacts) -> Optional[Tuple[ModuleFacts, str]]:
        """(module, local name) that an imported qualified name refers to, within the project."""
        if self._resolved is None:  # still building: the modules are not all known yet
            return self._resolve(qualname, importer, 0)
        key = (qualname, importer)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(qualname, importer, 0)
        return self._resolved[key]

    def _resolve(self, qualname: str, importer: ModuleFacts, hops: int) -> Optional[Tuple[ModuleFacts, str]]:
        if qualname.startswith("."):
            qualname = _absolute(qualname, importer)
            if qualname is None:
                return None
        parts = qualname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            facts = self.modules.get(".".join(parts[:cut]))
            if facts is None:
                continue
            rest = ".".join(parts[cut:])
            if rest in facts.functions or rest in facts.classes or rest in facts.guards:
                return facts, rest
            head = parts[cut]
            target = facts.reexports.get(head)
            if target is not None and hops < _MAX_REEXPORT_HOPS:
                tail = ".".join(parts[cut + 1:])
                return self._resolve(target + ("." + tail if tail else ""), facts, hops + 1)
            return None
        return None

    def external_function(self, facts: ModuleFacts, key: str) -> Optional[ExternalFunction]:
        identity = (facts.name, key)
        if identity not in self._functions:
            record = facts.functions.get(key)
            summary = facts.entry.get("summaries", {}).get(key, {})
            function = ExternalFunction(facts.name, key, record, summary, facts.display) if record else None
            self._functions[identity] = function if function is not None and function.informs else None
        return self._functions[identity]

    # -- solving --------------------------------------------------------------------------------
    def _solve(self) -> None:
        """Each function's base from every call site in the project, to a least fixpoint from
        "grad on"; kept where it differs from what its module alone decides."""
        modules = self._distinct_modules()
        sites: Dict[FunctionKey, List[Tuple[Json, ModuleFacts]]] = {}
        decided: Dict[FunctionKey, Region] = {}
        local: Dict[FunctionKey, Region] = {}
        external: Set[FunctionKey] = set()
        for facts in modules:
            for key, record in facts.functions.items():
                identity = (facts.name, key)
                local[identity] = region_from_json(record["local"], facts.display)
                if "base" in record:
                    decided[identity] = local[identity]
                else:
                    guarded = self._guard_decorator(facts, key, record)
                    if guarded is not None:
                        decided[identity] = guarded
                        external.add(identity)
                sites[identity] = [(site, facts) for site in record.get("sites", [])]
        for facts in modules:
            for call in facts.export.get("calls", []):
                target = self.resolve(call["callee"], facts)
                if target is not None and target[1] in target[0].functions:
                    identity = (target[0].name, target[1])
                    sites.setdefault(identity, []).append((call, facts))
                    external.add(identity)
            for class_name, record in facts.classes.items():
                for ancestor in self._project_ancestors(facts, class_name):
                    ancestor_facts, ancestor_name = ancestor
                    for method, calls in ancestor_facts.classes[ancestor_name].get("self_calls", {}).items():
                        own = f"{class_name}.{method}"
                        if own in facts.functions:
                            identity = (facts.name, own)
                            sites.setdefault(identity, []).extend((site, ancestor_facts) for site in calls)
                            external.add(identity)
        by_name: Dict[str, List[Tuple[Json, ModuleFacts]]] = {}
        for facts in modules:
            for name, calls in facts.export.get("method_calls", {}).items():
                by_name.setdefault(name, []).extend((site, facts) for site in calls)
        named: Dict[FunctionKey, List[Tuple[Json, ModuleFacts]]] = {}
        for identity in local:
            owner, _, method = identity[1].rpartition(".")
            if method in by_name and owner in self.modules[identity[0]].classes and not sites.get(identity):
                named[identity] = by_name[method]
                external.add(identity)
        if not external:
            return
        bases: Dict[FunctionKey, Region] = {identity: decided.get(identity, Region(GradMode.ON, RegionKind.DEFAULT)) for identity in local}
        undecided = [identity for identity in local if identity not in decided]
        for _ in range(len(undecided) + 1):
            changed = False
            for identity in undecided:
                if identity in named:
                    base = self._base_from_calls_by_name(identity, named[identity], bases)
                else:
                    base = self._base_from_sites(identity, sites.get(identity, []), bases, local[identity])
                if base != bases[identity]:
                    bases[identity] = base
                    changed = True
            if not changed:
                break
        for identity in local:
            if bases[identity].mode is not local[identity].mode:
                self._bases[identity] = bases[identity]
                self._based_modules.add(identity[0])

    def _guard_decorator(self, facts: ModuleFacts, key: str, record: Json) -> Optional[Region]:
        """The base a project guard of another module gives as a decorator (`@evaluation_mode`)."""
        for qualname, line in record.get("decorators", ()):
            target = self.resolve(qualname, facts)
            guard = target[0].guards.get(target[1]) if target is not None else None
            if guard is not None:
                name = key.rpartition(".")[2]
                label = "@" + qualname.rpartition(".")[2] + "()"
                return Region(
                    GradMode(guard["mode"]), RegionKind.DECORATOR, label, line, bool(guard.get("inference")), name,
                    file=facts.display,
                )
        return None

    @staticmethod
    def _base_from_sites(
        identity: FunctionKey, found: List[Tuple[Json, ModuleFacts]], bases: Dict[FunctionKey, Region], own: Region
    ) -> Region:
        if not found:
            return own  # no call anywhere: as its module decided (a library helper, a registered one)
        if any(site.get("escaped") for site, _ in found):
            return Region(GradMode.ON, RegionKind.DEFAULT)
        modes = set()
        inference = True
        first: Optional[Tuple[Json, ModuleFacts]] = None
        for site, facts in found:
            mode, site_inference = _site_mode(site, facts, bases)
            inference = inference and site_inference
            modes.add(mode)
            if first is None or (facts.display, site["line"]) < (first[1].display, first[0]["line"]):
                first = (site, facts)
        name = identity[1].rpartition(".")[2]
        if modes == {GradMode.OFF}:
            assert first is not None
            return Region(
                GradMode.OFF, RegionKind.CALLERS, line=first[0]["line"], inference=inference, function=name,
                file=first[1].display,
            )
        if GradMode.ON not in modes:
            return Region(GradMode.UNKNOWN, RegionKind.CALLERS, function=name)
        return Region(GradMode.ON, RegionKind.DEFAULT)

    @staticmethod
    def _base_from_calls_by_name(
        identity: FunctionKey, found: List[Tuple[Json, ModuleFacts]], bases: Dict[FunctionKey, Region]
    ) -> Region:
        """A method nobody is known to call, called by name on objects of unknown class: unknown
        if grad may be off at one of those calls (callers.py decides the same within a module)."""
        for site, facts in found:
            if _site_mode(site, facts, bases)[0] is not GradMode.ON:
                return Region(GradMode.UNKNOWN, RegionKind.CALLERS, function=identity[1].rpartition(".")[2])
        return Region(GradMode.ON, RegionKind.DEFAULT)

    def _project_ancestors(self, facts: ModuleFacts, class_name: str) -> List[Tuple[ModuleFacts, str]]:
        """The project classes a class derives from, nearest first (each once)."""
        found: List[Tuple[ModuleFacts, str]] = []
        seen: Set[Tuple[str, str]] = {(facts.name, class_name)}
        pending = [(facts, class_name)]
        while pending:
            owner, name = pending.pop(0)
            for base in owner.classes.get(name, {}).get("bases", []):
                if base is None:
                    continue
                target = (owner, base[1:]) if base.startswith("@") else self.resolve(base, owner)
                if target is None or target[1] not in target[0].classes:
                    continue
                identity = (target[0].name, target[1])
                if identity not in seen:
                    seen.add(identity)
                    found.append(target)
                    pending.append(target)
        return found

    def ancestor_names(self, facts: ModuleFacts, class_name: str) -> FrozenSet[str]:
        """Qualified names of the bases outside the project that a class reaches through the
        project classes it derives from (its own direct bases are its module's to see)."""
        names: Set[str] = set()
        for owner, name in self._project_ancestors(facts, class_name):
            for base in owner.classes.get(name, {}).get("bases", []):
                if base is not None and not base.startswith("@") and self.resolve(base, owner) is None:
                    names.add(base)
        return frozenset(names)


class ProjectContext:
    """What the analysis of one module may ask about the rest of its project.

    Every question is answered by `_answer` and written down with its answer, so that findings
    computed with this context can be kept and reused while the answers stay the same."""

    def __init__(self, index: ProjectIndex, facts: ModuleFacts) -> None:
        self._index = index
        self._facts = facts
        self.module = facts.name
        self._informs: Optional[bool] = None
        self._asked: Dict[Tuple[str, str], object] = {}
        self._final: Optional[Tuple[str, FrozenSet[str], Optional[List[Finding]]]] = None
        self._digested: Optional[Tuple[str, str]] = None
        self._walked: Optional[WalkedModule] = None

    @property
    def informs(self) -> bool:
        """Does the project tell this module anything its text alone does not (a helper it calls
        back-propagates, updates, returns a known state or is a guard; callers elsewhere decide
        one of its functions' grad mode)? Rules whose keywords the text lacks still run then."""
        if self._informs is None and "calls" not in self._facts.export:
            self._informs = True  # not indexed (a notebook): what it calls is not known in advance
        if self._informs is None:
            self._informs = self._facts.name in self._index._based_modules
            for call in self._facts.export.get("calls", []):
                if self._informs:
                    break
                target = self._index.resolve(call["callee"], self._facts)
                if target is None or target[0] is self._facts:
                    continue
                function = self._index.external_function(*target)
                self._informs = target[1] in target[0].guards or (function is not None and function.informs)
        return self._informs

    def walked_module(self, text: Optional[str] = None) -> Optional[WalkedModule]:
        """The index's walk of this module (of `text`, when given), for an analysis with this
        context to start from: when the project answers none of the questions asked while
        walking, walking again with its answers would give the same. The check's (with `text`)
        takes it from the index (each module is checked once), then this context holds it."""
        facts = self._facts
        if text is not None and facts.entry.get("text") != self._digest_of(text):
            return None
        if self._walked is None and facts.walked is not None:
            walked, asked = facts.walked
            if text is not None:
                facts.walked = None
            if all(answer is None for answer in self._answers(asked)):
                self._walked = walked
        return self._walked

    def analyses_again(self) -> bool:
        """Will the check analyse this module with the project's answers (its findings alone
        do not hold)?"""
        entry = self._facts.entry
        return "findings" not in entry or self.informs or any(self._answers(entry.get("asked", {})))

    # -- findings kept for reuse ------------------------------------------------------------------
    def final_findings(self, text: str, codes: Collection[str]) -> Optional[List[Finding]]:
        """The module's findings for these rule codes when they are already known: the index
        analysed this very text alone and the project answers none of that analysis's questions,
        or findings kept from an analysis with this context (`remember`) whose questions the
        project still answers the same. None: analyse it here, with this context."""
        wanted = frozenset(codes)
        if self._final is not None and self._final[0] is text and self._final[1] == wanted:
            return self._final[2]  # asked again for the same text (the command, then check_tree)
        found = self._known_findings(text, codes)
        self._final = (text, wanted, found)
        return found

    def _known_findings(self, text: str, codes: Collection[str]) -> Optional[List[Finding]]:
        entry = self._facts.entry
        if entry.get("text") != self._digest_of(text):
            return None
        alone = "findings" in entry and set(codes) <= set(entry.get("codes", ())) | {INTERNAL_ERROR}
        if alone and not self.informs and not any(self._answers(entry.get("asked", {}))):
            return _selected(entry["findings"], codes)
        informed = entry.get("informed")
        if informed is not None and set(codes) <= set(informed["codes"]) | {INTERNAL_ERROR}:
            if _digest(self._answers(informed["asked"])) == informed["answers"]:
                return _selected(informed["findings"], codes)
        return None

    def _digest_of(self, text: str) -> str:
        """text_digest, once for the text asked about (final_findings, then remember)."""
        if self._digested is None or self._digested[0] is not text:
            self._digested = (text, text_digest(text))
        return self._digested[1]

    def remember(self, text: str, codes: Collection[str], findings: List[Finding]) -> None:
        """Keep findings computed with this context in the module's cache entry, with the
        questions asked (by the index's analysis and this one) and a digest of their answers."""
        entry = self._facts.entry
        if not self._facts.key or entry.get("text") != self._digest_of(text):
            return
        asked: Dict[str, Set[str]] = {kind: set(names) for kind, names in entry.get("asked", {}).items()}
        for kind, name in self._asked:
            asked.setdefault(kind, set()).add(name)
        plain = {kind: sorted(names) for kind, names in asked.items()}
        entry["informed"] = {
            "codes": sorted(codes),
            "asked": plain,
            "answers": _digest(self._answers(plain)),
            "findings": [finding_to_json(finding) for finding in findings],
        }
        self._index.store(self._facts)

    def _answers(self, asked: Dict[str, Sequence[str]]) -> List[object]:
        """The answers to these questions, as plain data (None for "nothing to say")."""
        return [self._answer(kind, name) for kind in sorted(asked) for name in asked[kind]]

    def _answer(self, kind: str, name: str) -> object:
        key = (kind, name)
        if key in self._asked:
            return self._asked[key]
        answer: object = None
        if kind == "base":
            region = self._index._bases.get((self._facts.name, name))
            answer = region_to_json(region) if region is not None else None
        elif kind == "derives":
            class_name, _, base = name.partition(" ")
            answer = base in self._index.ancestor_names(self._facts, class_name) or None
        else:
            target = self._index.resolve(name, self._facts)
            if target is not None and target[0] is not self._facts:
                owner, local = target
                if kind == "function":
                    if self._index.external_function(owner, local) is not None:
                        answer = [owner.name, local, owner.functions.get(local), owner.entry.get("summaries", {}).get(local)]
                elif kind == "guard":
                    answer = owner.guards.get(local)
                elif kind == "leaves":
                    record = owner.functions.get(local, {})
                    answer = local.rpartition(".")[2] if record.get("leaves_off") else None
        self._asked[key] = answer
        return answer

    # -- questions ----------------------------------------------------------------------------
    def function(self, qualname: str) -> Optional[ExternalFunction]:
        """The project function an imported name calls, when it tells a caller anything."""
        answer = self._answer("function", qualname)
        if not isinstance(answer, list):
            return None
        module, local = answer[0], answer[1]  # resolved once, by _answer
        return self._index.external_function(self._index.modules[module], local)

    def guard(self, qualname: str) -> Optional[GuardEffect]:
        """A grad guard (decorator, context manager, alias of torch's) defined in another module."""
        record = self._answer("guard", qualname)
        if not isinstance(record, dict):
            return None
        inference = bool(record.get("inference"))
        label = qualname.rpartition(".")[2]
        return GuardEffect(GradMode(record["mode"]), label, inference=inference, switches_inference=inference)

    def base_of(self, key: str) -> Optional[Region]:
        """The base of one of this module's functions, when calls in other modules decide it."""
        if self._answer("base", key) is None:
            return None
        return self._index._bases.get((self._facts.name, key))

    def derives_from(self, class_name: str, base: str) -> bool:
        """Does one of this module's classes derive from `base` (a qualified name outside the
        project, `lightning.pytorch.LightningModule`) through project classes in other modules?"""
        return bool(self._answer("derives", f"{class_name} {base}"))

    def leaves_grad_off(self, qualname: str) -> Optional[str]:
        """The name of a project function in another module that returns with grad switched off
        (`torch.set_grad_enabled(False)` never switched back), else None."""
        answer = self._answer("leaves", qualname)
        return answer if isinstance(answer, str) else None


def _site_mode(site: Json, facts: ModuleFacts, bases: Dict[FunctionKey, Region]) -> Tuple[GradMode, bool]:
    """The grad mode at a call site (its own, or its caller's base so far) and whether it is
    inference mode."""
    if "inherit" in site:
        caller = bases.get((facts.name, site["inherit"]))
        if caller is None:
            return GradMode.UNKNOWN, False
        return caller.mode, caller.inference
    return GradMode(site["mode"]), bool(site.get("inference"))


def _selected(records: List[Json], codes: Collection[str]) -> List[Finding]:
    return [finding for finding in map(finding_from_json, records) if finding.code in codes]


def _digest(answers: List[object]) -> str:
    return hashlib.sha256(json.dumps(answers, sort_keys=True, default=str).encode()).hexdigest()


def _absolute(qualname: str, importer: ModuleFacts) -> Optional[str]:
    """'.utils.f' imported in pkg.train -> 'pkg.utils.f' (one dot per level)."""
    level = len(qualname) - len(qualname.lstrip("."))
    package = importer.name.split(".") if importer.is_package else importer.name.split(".")[:-1]
    if level - 1 > len(package):
        return None
    base = package[: len(package) - (level - 1)]
    rest = qualname[level:]
    return ".".join(base + ([rest] if rest else [])) or None


def _config_fingerprint(config: Config) -> str:
    return repr((config.extra_guards, config.hooks))


class _Questions:
    """The context of a module analysed alone for the index: it answers nothing and writes down
    what it was asked, so that the index can tell whether the project would change the answer."""

    informs = False

    def __init__(self) -> None:
        self.asked: Dict[str, Set[str]] = {"function": set(), "guard": set(), "base": set(), "derives": set(), "leaves": set()}

    def function(self, qualname: str) -> None:
        self.asked["function"].add(qualname)

    def guard(self, qualname: str) -> None:
        self.asked["guard"].add(qualname)

    def base_of(self, key: str) -> None:
        self.asked["base"].add(key)

    def leaves_grad_off(self, qualname: str) -> None:
        self.asked["leaves"].add(qualname)

    def derives_from(self, class_name: str, base: str) -> bool:
        self.asked["derives"].add(f"{class_name} {base}")
        return False


def text_digest(text: str) -> str:
    """Of the text as the front ends hold it: newlines normalised (flake8 reads universal newlines)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()


_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\(?([^\n#]*)|import[ \t]+([^\n#]*))", re.M)


def _callees_first(
    items: List[Tuple[str, str, List[str], str, bytes]]
) -> Tuple[List[Tuple[str, str, List[str], str, bytes]], Set[str]]:
    """Files in an order where a module comes after the project modules it imports (as far as
    a look at its import lines tells; cycles are cut anywhere), and the real paths of those
    another module imports (through a package's `__init__.py` too). Only the speed depends on it."""
    by_name: Dict[str, int] = {}
    for number, item in enumerate(items):
        for name in item[2]:
            by_name.setdefault(name, number)
    imported: List[List[int]] = []
    for path, _, names, _, content in items:
        package = names[0].split(".")
        if os.path.basename(path) != "__init__.py":
            package = package[:-1]
        found: List[int] = []
        for match in _IMPORT.finditer(content):
            source, listed, plain = match.groups()
            candidates: List[str] = []
            if plain is not None:
                candidates = [part.split()[0].decode("ascii", "replace") for part in plain.split(b",") if part.split()]
            else:
                module = source.decode("ascii", "replace")
                level = len(module) - len(module.lstrip("."))
                if level:
                    if level - 1 > len(package):
                        continue
                    base = package[: len(package) - (level - 1)]
                    rest = module[level:]
                    module = ".".join(base + ([rest] if rest else []))
                candidates = [module] if module else []
                for part in listed.split(b","):
                    words = part.split()
                    if words and words[0] != b"*":
                        name = words[0].strip(b"()").decode("ascii", "replace")
                        candidates.append(f"{module}.{name}" if module else name)
            found.extend(by_name[name] for name in candidates if name in by_name)
        imported.append(found)
    order: List[int] = []
    state = [0] * len(items)  # 0 unseen, 1 on the stack, 2 placed
    for start in range(len(items)):
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(imported[start]))]
        while stack:
            number, pending = stack[-1]
            for callee in pending:
                if not state[callee]:
                    state[callee] = 1
                    stack.append((callee, iter(imported[callee])))
                    break
            else:
                stack.pop()
                state[number] = 2
                order.append(number)
    targets = {callee for number, found in enumerate(imported) for callee in found if callee != number}
    for number in list(targets):
        if os.path.basename(items[number][0]) == "__init__.py":
            targets.update(imported[number])  # what the package re-exports
    return [items[number] for number in order], {items[number][1] for number in targets}


def _under(path: str, checked: FrozenSet[str]) -> bool:
    """Is `path` one of the `checked` paths, or in one of those folders?"""
    while True:
        if path in checked:
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def _summarised(entry: Json) -> bool:
    """Has the module a function whose summary another module may ask for?"""
    return any(record.get("summarise") for record in entry["export"].get("functions", {}).values())


def summarise_source(
    path: str, keys: List[str], config: Config, context: Optional["ProjectContext"] = None,
    walked: Optional[WalkedModule] = None,
) -> Optional[Json]:
    """Summaries of some functions of one module (None when it cannot be read or analysed);
    `walked`: the module's walk, valid with `context` (ProjectContext.walked_module)."""
    from ..analysis import ModuleAnalysis
    from ..sources import decode_source
    from .exports import summarise

    try:
        if walked is not None:
            tree = walked.tree
        else:
            with open(path, "rb") as handle:
                tree = ast.parse(decode_source(handle.read()))
        return summarise(ModuleAnalysis(tree, config, context or _Questions(), walked), keys)  # type: ignore[arg-type]
    except Exception:  # noqa: B902 - unknown, as if never asked
        return None


def analyse_source(content: bytes, config: Config, informed: Optional[Callable[[List[str]], bool]] = None) -> Optional[Json]:
    """One module analysed alone: its export, its findings under every rule, and the questions
    it asked about other modules (None when it does not parse or cannot be analysed).

    `informed(callees)` (the qualified names it calls): the project is expected to inform the module (the check will analyse it
    again with the project's answers): its rules are not run alone, the entry has no findings."""
    return _analyse(content, config, informed, [])


def _analyse(
    content: bytes, config: Config, informed: Optional[Callable[[List[str]], bool]], walk: List[Tuple[WalkedModule, Json]]
) -> Optional[Json]:
    """analyse_source, adding to `walk` the module's walk and the questions asked while walking
    (none for a module without torch, which is not walked)."""
    from ..analysis import ModuleAnalysis, walk_module
    from ..checker import run_rules
    from ..sources import decode_source
    from .exports import export_module, light_export

    try:
        text = decode_source(content)
        tree = ast.parse(text)
        applicable = [rule for rule in ALL_RULES if rule.applies_to(text)]
        if not applicable and "torch" not in text and "backward" not in text:
            return {
                "export": light_export(tree), "text": text_digest(text), "codes": sorted(DEFAULT_CODES),
                "findings": [], "asked": {},
            }
        questions = _Questions()
        walked = walk_module(tree, config, questions)  # type: ignore[arg-type]
        walk.append((walked, {kind: sorted(names) for kind, names in questions.asked.items() if names}))
        analysis = ModuleAnalysis(tree, config, questions, walked)  # type: ignore[arg-type]
        entry: Json = {"text": text_digest(text)}
        if informed is None or not informed([site.qualname for site in analysis.calls if site.qualname is not None]):
            # The rules a run reports by default; a run that selects an opt-in rule analyses again.
            findings = run_rules(analysis, [rule for rule in applicable if rule.default_enabled])
            entry["codes"] = sorted(DEFAULT_CODES)
            entry["findings"] = [finding_to_json(finding) for finding in findings]
        entry["export"] = export_module(analysis)
    except Exception:  # noqa: B902 - a module the index cannot read is left out, never fatal
        return None
    entry["asked"] = {kind: sorted(names) for kind, names in questions.asked.items() if names}
    return entry


def finding_to_json(finding: Finding) -> Json:
    # The record dataclasses.asdict gives, built directly (asdict deep-copies every field, slowly)
    fix = finding.fix
    return {
        "line": finding.line,
        "col": finding.col,
        "code": finding.code,
        "message": finding.message,
        "fix": None if fix is None else {"description": fix.description, "safe": fix.safe, "action": fix.action, "target": fix.target},
        "end_line": finding.end_line,
        "end_col": finding.end_col,
    }


def finding_from_json(record: Json) -> Finding:
    fix = record.get("fix")
    if fix is not None:
        target = fix.get("target")
        fix = Fix(fix["description"], fix["safe"], fix["action"], tuple(target) if target is not None else None)
    return Finding(
        record["line"], record["col"], record["code"], record["message"], fix, record.get("end_line"), record.get("end_col")
    )
