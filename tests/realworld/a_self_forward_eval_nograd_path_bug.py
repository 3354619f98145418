# realworld: https://github.com/soda-inria/tabicl/issues/17
# family: A
"""A tabular pipeline trains a small preprocessing layer in front of a pretrained encoder that it
freezes with `.eval()`. The encoder's `forward` sends eval-mode calls to a fast path decorated
`@torch.no_grad()`, so `out = self.forward(x)` in the pipeline returns a value with no graph back
to the trainable preprocessing layer, and `loss.backward()` raises."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class PretrainedEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rows = nn.Linear(5, 8)
        self.head = nn.Linear(8, 3)

    @torch.no_grad()
    def _inference_forward(self, x):
        return self.head(self.rows(x).relu())

    def forward(self, x):
        if not self.training:
            return self._inference_forward(x)
        return self.head(self.rows(x).relu())


class Pipeline(nn.Module):
    def __init__(self):
        super().__init__()
        self.prep = nn.Linear(5, 5)
        self.encoder = PretrainedEncoder()
        self.encoder.requires_grad_(False).eval()

    def forward(self, x):
        return self.encoder(self.prep(x))

    def fit_batch(self, x, y, opt):
        out = self.forward(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()  # finding: NG101  # raises: does not require grad
        opt.step()


if __name__ == "__main__":
    pipe = Pipeline()
    pipe.fit_batch(torch.randn(4, 5), torch.tensor([0, 1, 2, 1]), torch.optim.SGD(pipe.prep.parameters(), lr=0.1))
