# realworld: https://github.com/pytorch/audio/pull/1993
# family: C
"""A vocoder-style network initialises its layers from an `_init_weights(self, m)` method handed
to `self.apply(...)` in `__init__`: it fills each conv's weight with a constant and zeroes its
bias with `m.weight.fill_(...)` / `m.bias.zero_()`. `apply` calls the method on every submodule
with grad on, and the first fill raises "a leaf Variable that requires grad is being used in an
in-place operation"; the finding is at the `apply` call, which decides the grad mode.
"""
import torch
import torch.nn as nn


class Upsampler(nn.Module):
    def __init__(self, channels=4, scales=(2, 2)):
        super().__init__()
        self.ups = nn.ModuleList(nn.ConvTranspose1d(channels, channels, 2 * s, s, s // 2) for s in scales)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.apply(self._init_weights)  # finding: NG301

    def _init_weights(self, m):
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
            m.weight.fill_(1.0 / m.weight.shape[-1])  # raises: leaf Variable that requires grad is being used in an in-place operation
            m.bias.zero_()

    def forward(self, x):
        for up in self.ups:
            x = up(x)
        return self.proj(x)


if __name__ == "__main__":
    print(Upsampler()(torch.randn(1, 4, 5)).shape)
