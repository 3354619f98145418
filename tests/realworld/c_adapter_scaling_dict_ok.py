# realworld: https://github.com/Xuan-World/UniCombine/issues/3
# family: C
"""A LoRA-style adapter layer keeps its per-adapter scale in `self.scaling`: a plain dict of floats
by default, or a single learnable `nn.Parameter` when `learnable_scale=True`. The item writes,
`self.scaling[name] = alpha / r` and `self.scaling[name] *= factor`, happen only on the dict path
(guarded by `isinstance(self.scaling, dict)`), so they store Python floats in a dict and never touch
the Parameter; the Parameter path only reads it. Correct: nothing raises.
"""
import torch
import torch.nn as nn


class AdapterLinear(nn.Module):
    def __init__(self, base, r=2, learnable_scale=False):
        super().__init__()
        self.base, self.r = base, r
        self.lora_a, self.lora_b = nn.ModuleDict(), nn.ModuleDict()
        if learnable_scale:
            self.scaling = nn.Parameter(torch.ones(()))
        else:
            self.scaling = {}

    def add_adapter(self, name, alpha):
        self.lora_a[name] = nn.Linear(self.base.in_features, self.r, bias=False)
        self.lora_b[name] = nn.Linear(self.r, self.base.out_features, bias=False)
        nn.init.zeros_(self.lora_b[name].weight)
        if isinstance(self.scaling, dict):
            self.scaling[name] = alpha / self.r

    def rescale(self, name, factor):
        if isinstance(self.scaling, dict):
            self.scaling[name] *= factor

    def forward(self, x, name):
        scale = self.scaling[name] if isinstance(self.scaling, dict) else self.scaling
        return self.base(x) + self.lora_b[name](self.lora_a[name](x)) * scale


if __name__ == "__main__":
    for learnable in (False, True):
        layer = AdapterLinear(nn.Linear(4, 3), learnable_scale=learnable)
        layer.add_adapter("style", alpha=8)
        layer.rescale("style", 0.5)
        layer(torch.randn(2, 4), "style").sum().backward()
        assert isinstance(layer.scaling, dict) != learnable
