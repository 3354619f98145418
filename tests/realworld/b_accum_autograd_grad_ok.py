# realworld: https://github.com/meta-pytorch/captum/pull/1347
# family: B
"""SmoothGrad saliency: for each image batch, the input gradient of the target score is averaged
over noisy copies (`total = total + g` across samples) and the averaged map is appended to the
result list. Every `g` comes from `torch.autograd.grad(...)` without `create_graph=True`, so it is a
plain tensor with no graph; the running sum and the kept maps hold no graph (the loop does need grad
enabled, for `autograd.grad`)."""
import torch
import torch.nn as nn


def smoothgrad_maps(model, loader, n_samples=4, sigma=0.1):
    maps = []
    for images, targets in loader:
        total = torch.zeros_like(images)
        for _ in range(n_samples):
            noisy = (images + sigma * torch.randn_like(images)).requires_grad_(True)
            score = model(noisy).gather(1, targets[:, None]).sum()
            (g,) = torch.autograd.grad(score, noisy)
            total = total + g
        maps.append((total / n_samples).abs())
    return maps


if __name__ == "__main__":
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    data = [(torch.randn(2, 1, 4, 4), torch.randint(0, 3, (2,))) for _ in range(3)]
    result = smoothgrad_maps(net, data)
    assert all(m.grad_fn is None and not m.requires_grad for m in result)
