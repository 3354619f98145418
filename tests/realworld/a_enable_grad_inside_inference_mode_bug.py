# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/15925
# family: A
"""A serving entry point is decorated `@torch.inference_mode()`; for each request it also returns a
saliency map, computed inside `with torch.enable_grad():` on a fresh leaf copy of the input.
`enable_grad()` re-enables grad mode but cannot leave inference mode: the forward records nothing,
the score has no graph and `torch.autograd.grad` raises."""
import torch
import torch.nn as nn


def saliency(model, x):
    with torch.enable_grad():
        probe = x.detach().clone().requires_grad_(True)
        score = model(probe).max(dim=-1).values.sum()
        (g,) = torch.autograd.grad(score, probe)  # finding: NG101  # raises: does not require grad
    return g.abs()


@torch.inference_mode()
def serve(model, requests):
    model.eval()
    results = []
    for x in requests:
        probs = model(x).softmax(-1)
        results.append((probs.argmax(-1), saliency(model, x)))
    return results


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    serve(net, [torch.randn(2, 5)])
