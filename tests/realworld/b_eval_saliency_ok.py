# realworld: https://github.com/open-mmlab/mmpretrain/issues/1151
# family: B
"""Saliency maps over a test set: after `model.eval()` each batch's input is made a leaf that
requires grad and `torch.autograd.grad` takes the gradient of the target class score with respect
to it. The loop needs grad by design (under `no_grad` the score has no graph and autograd.grad
raises); the kept maps come from autograd.grad without `create_graph`, so they carry no graph.
Correct."""
import torch
import torch.nn as nn


def explain(model, loader):
    model.eval()
    maps = []
    for images, labels in loader:
        images = images.clone().requires_grad_(True)
        scores = model(images).gather(1, labels[:, None]).sum()
        (grad,) = torch.autograd.grad(scores, images)
        maps.append(grad.abs().amax(dim=1))
    return torch.cat(maps)


if __name__ == "__main__":
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 5))
    data = [(torch.randn(2, 3, 8, 8), torch.randint(0, 5, (2,))) for _ in range(2)]
    saliency = explain(cnn, data)
    assert saliency.shape == (4, 8, 8) and saliency.grad_fn is None
