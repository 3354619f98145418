"""NG101: backward() on a value that has no autograd graph (a RuntimeError at run time)."""
from __future__ import annotations

from typing import Iterator, Optional

from ..analysis import BackwardCall, ModuleAnalysis, Origin, OriginKind, RegionKind
from ..findings import Finding, finding_at
from .base import Rule, describe


class BackwardWithoutGraph(Rule):
    code = "NG101"
    name = "backward-without-graph"
    summary = "backward() or torch.autograd.grad() on a value computed without grad"
    triggers = ("backward", "autograd")

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        for backward in analysis.backward_calls:
            message = self._without_graph(analysis, backward) or self._without_graph_when_called(analysis, backward)
            if message is not None:
                yield finding_at(backward.call, backward.statement.stmt, self.code, message)
        for handoff in analysis.handed_to_backward:
            state = analysis.state_of(handoff.argument, handoff.site.statement)
            if state.is_no_graph and state.origin is not None:
                name = describe(handoff.argument)
                handed = f"{name} is handed to '{handoff.helper}()', which calls {handoff.api} on it ({handoff.where}): "
                why = explain(name, state.origin, handoff.api)
                yield finding_at(handoff.site.node, handoff.site.statement.stmt, self.code, handed + why)

    @staticmethod
    def _without_graph(analysis: ModuleAnalysis, backward: BackwardCall) -> Optional[str]:
        for value in backward.values:
            state = analysis.state_of(value, backward.statement)
            if state.is_no_graph and state.origin is not None:
                return explain(describe(value), state.origin, backward.api)  # the first one is the root cause
        return None

    @staticmethod
    def _without_graph_when_called(analysis: ModuleAnalysis, backward: BackwardCall) -> Optional[str]:
        """A function with grad-on and grad-off callers: from a grad-off one, what it computes
        itself has no graph (`model(x)` under no_grad runs a forward that calls autograd.grad)."""
        statement = backward.statement
        for call in analysis.grad_off_calls(statement.function, at=statement):
            for value in backward.values:
                state = analysis.state_when_called_in(value, statement, call.region)
                origin = state.origin
                if state.is_no_graph and origin is not None and origin.kind is OriginKind.REGION:
                    return (
                        f"{describe(value)} has no graph when '{statement.function.name}' is called on line "
                        f"{call.stmt.lineno}, {call.region.describe()}; call it with grad enabled there, "
                        f"or move {backward.api} out of '{statement.function.name}'"
                    )
        return None


def explain(name: str, origin: Origin, api: str) -> str:
    """Why `name` has no graph, and what to do instead."""
    if origin.kind is OriginKind.RETURNED:
        hops = []  # the calls it came back through, innermost last
        root: Optional[Origin] = origin.cause
        while root is not None and root.kind is OriginKind.RETURNED:
            hops.append(f"'{root.detail}()' ({root.where})")
            root = root.cause
        through = f", through {', '.join(hops)}" if hops else ""
        cause = f", {returned_value(root)}" if root is not None else ""
        return (
            f"{name} comes from what '{origin.detail}()' returns ({origin.where}){through}{cause}, and has no "
            f"graph; call {api} on a value computed with grad, or make '{origin.detail}' return one"
        )
    if origin.kind is OriginKind.GRADIENT:
        return (
            f"{name} comes from torch.autograd.grad() without create_graph=True ({origin.where}) and has "
            f"no graph; pass create_graph=True to differentiate through the gradient"
        )
    if origin.kind is OriginKind.DETACH:
        return (
            f"{name} comes from a detached tensor ({origin.where}) and has no graph; "
            f"call {api} on the value before .detach()"
        )
    if origin.kind is OriginKind.CREATED:
        return (
            f"{name} comes from {origin.detail} without requires_grad ({origin.where}) and has no "
            f"graph; call {api} on a value computed from parameters"
        )
    if origin.kind is OriginKind.INTEGER:
        return (
            f"{name} comes from {origin.detail} ({origin.where}), whose integer/bool result has no "
            f"gradient; compute the loss from the float outputs (e.g. logits) instead"
        )
    if origin.kind is OriginKind.NUMBER:
        return (
            f"{name} is a Python number from {origin.detail} ({origin.where}), not a tensor; "
            f"call {api} on the tensor itself"
        )
    region = origin.region
    assert region is not None
    where = f"{name} was computed {region.describe()}"
    why = "is an inference tensor without a graph" if region.inference else "has no graph"
    # enable_grad() cannot leave inference mode; inference_mode(False) can.
    enabling = "with torch.inference_mode(False):" if region.inference else "with torch.enable_grad():"
    if region.kind is RegionKind.WITH:
        fix = f"compute it outside 'with {region.label}:' before calling {api}"
    elif region.kind is RegionKind.STATEMENT:
        fix = f"compute it before {region.label}, or call torch.set_grad_enabled(True) first"
    elif region.kind is RegionKind.DECORATOR:
        fix = f"remove {region.label} from '{region.function}' or compute it inside '{enabling}'"
    elif region.kind is RegionKind.LEFT_OFF:
        fix = f"switch grad back on before '{region.function}' returns, or use 'with torch.no_grad():' inside it"
    elif region.kind is RegionKind.HOOK:
        fix = "back-propagate in a method that runs with grad, such as training_step"
    else:
        where_on = "outside inference mode" if region.inference else "where grad is enabled"
        fix = f"call '{region.function}' {where_on}, or compute it inside '{enabling}'"
    return f"{where} and {why}; {fix}"


def returned_value(origin: Origin) -> str:
    """What a function returns, for "'x' comes from what 'f()' returns, <this>"."""
    if origin.kind is OriginKind.DETACH:
        return f"a detached tensor ({origin.where})"
    if origin.kind is OriginKind.CREATED:
        return f"a tensor from {origin.detail} without requires_grad ({origin.where})"
    if origin.kind is OriginKind.INTEGER:
        return f"an integer/bool result of {origin.detail} ({origin.where})"
    if origin.kind is OriginKind.NUMBER:
        return f"a Python number from {origin.detail} ({origin.where})"
    if origin.kind is OriginKind.GRADIENT:
        return f"a gradient from torch.autograd.grad() without create_graph=True ({origin.where})"
    if origin.kind is OriginKind.RETURNED:
        return f"what '{origin.detail}()' returns ({origin.where})"
    if origin.region is not None:
        return f"computed {origin.region.describe()}"
    return "a value without a graph"

