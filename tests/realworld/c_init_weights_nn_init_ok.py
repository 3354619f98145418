# realworld: https://github.com/pytorch/audio/pull/1993
# family: C
"""The conv initialisation written the way the fix did: `_init_weights(self, m)` (handed to
`self.apply`) uses `nn.init.constant_` / `nn.init.zeros_`, which run under no_grad inside torch,
and the learnable gain is reset in `reset_parameters()` under `with torch.no_grad():`. The
weights stay trainable leaves. Correct: nothing raises.
"""
import torch
import torch.nn as nn


class Upsampler(nn.Module):
    def __init__(self, channels=4, scales=(2, 2)):
        super().__init__()
        self.ups = nn.ModuleList(nn.ConvTranspose1d(channels, channels, 2 * s, s, s // 2) for s in scales)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.gain = nn.Parameter(torch.empty(channels))
        self.apply(self._init_weights)
        self.reset_parameters()

    def _init_weights(self, m):
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
            nn.init.constant_(m.weight, 1.0 / m.weight.shape[-1])
            nn.init.zeros_(m.bias)

    def reset_parameters(self):
        with torch.no_grad():
            self.gain.uniform_(0.9, 1.1)

    def forward(self, x):
        for up in self.ups:
            x = up(x)
        return self.proj(x) * self.gain[:, None]


if __name__ == "__main__":
    net = Upsampler()
    net(torch.randn(1, 4, 5)).sum().backward()
    assert net.gain.is_leaf and net.gain.grad is not None and net.proj.bias.abs().sum() == 0
