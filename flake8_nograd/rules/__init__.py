"""The rule registry: every rule, in code order. One module per rule."""
from __future__ import annotations

from typing import Dict, Tuple

from .base import Rule
from .ng101_backward_without_graph import BackwardWithoutGraph
from .ng102_requires_grad_silences import RequiresGradSilencesError
from .ng103_inference_tensor import InferenceTensorOutsideInferenceMode
from .ng104_numpy_requires_grad import NumpyOfGradTensor
from .ng105_graph_backpropagated_twice import GraphBackpropagatedTwice
from .ng201_eval_loop_with_grad import EvalLoopWithGrad
from .ng202_graph_accumulated import GraphAccumulated
from .ng203_inference_with_grad import InferenceWithGrad
from .ng401_guard_not_called import GuardNotCalled
from .ng301_inplace_parameter_update import InPlaceParameterUpdate
from .ng302_optimizer_step_grad_enabled import OptimizerStepWithGrad
from .ng402_guard_statement import GuardStatementDoesNothing

ALL_RULES: Tuple[Rule, ...] = (
    BackwardWithoutGraph(),
    RequiresGradSilencesError(),
    InferenceTensorOutsideInferenceMode(),
    NumpyOfGradTensor(),
    GraphBackpropagatedTwice(),
    EvalLoopWithGrad(),
    GraphAccumulated(),
    InferenceWithGrad(),
    InPlaceParameterUpdate(),
    OptimizerStepWithGrad(),
    GuardNotCalled(),
    GuardStatementDoesNothing(),
)
RULES_BY_CODE: Dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Rule"]
