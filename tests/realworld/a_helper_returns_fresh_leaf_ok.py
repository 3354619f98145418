# realworld: https://github.com/vsitzmann/siren/issues/12
# family: A
"""Look-alike of a helper returning a detached value: `as_probe()` returns
`t.detach().clone().requires_grad_()`, a fresh leaf, so differentiating with respect to it is the
point. A second probe is made in the other order (`clone().detach()`) under `torch.no_grad()`, and
a third by `detach()` then `requires_grad = True`. Each is a leaf that requires grad: the
backward/grad calls on the model's outputs work and fill each probe's `.grad`."""
import torch
import torch.nn as nn


def as_probe(t):
    return t.detach().clone().requires_grad_()


def coordinate_grads(field, coords):
    probe = as_probe(coords)
    field(probe).sum().backward()
    return probe.grad


def check_grads(field, coords):
    with torch.no_grad():
        ref = coords.clone().detach().requires_grad_(True)
    field(ref).sum().backward()
    alt = coords.detach()
    alt.requires_grad = True
    (g_alt,) = torch.autograd.grad(field(alt).sum(), alt)
    return ref.grad, g_alt


if __name__ == "__main__":
    siren = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    xy = torch.rand(5, 2)
    g = coordinate_grads(siren, xy)
    g_ref, g_alt = check_grads(siren, xy)
    assert torch.allclose(g, g_ref) and torch.allclose(g, g_alt)
