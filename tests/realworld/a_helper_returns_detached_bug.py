# realworld: https://github.com/pytorch/pytorch/issues/91529
# family: A
"""A retrieval trainer reuses `embed()`, a helper written for building the search index, which
returns `model(x).detach()` so that cached embeddings hold no graph. In the training step every
embedding therefore comes back detached: the triplet loss is computed from values without a graph
and `loss.backward()` raises. The helper's return summary (a detached value) is what a linter must
carry across the call."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def embed(model, x):
    z = F.normalize(model(x), dim=-1)
    return z.detach()  # index entries must not keep the encoder's graph


def build_index(model, gallery):
    return torch.cat([embed(model, g) for g in gallery])


def triplet_step(model, anchor, positive, negative, opt, margin=0.2):
    a = embed(model, anchor)
    p = embed(model, positive)
    n = embed(model, negative)
    loss = F.triplet_margin_loss(a, p, n, margin=margin)
    opt.zero_grad()
    loss.backward()  # finding: NG101  # raises: does not require grad
    opt.step()
    return loss.item()


if __name__ == "__main__":
    encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    index = build_index(encoder, [torch.randn(3, 8), torch.randn(3, 8)])
    assert index.grad_fn is None
    sgd = torch.optim.SGD(encoder.parameters(), lr=0.1)
    triplet_step(encoder, torch.randn(5, 8), torch.randn(5, 8), torch.randn(5, 8), sgd)
