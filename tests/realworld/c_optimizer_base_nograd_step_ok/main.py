# realworld: https://github.com/pytorch/examples/pull/779
# family: C
"""The look-alike: the project's Optimizer base class (optim/base.py) decorates step() with
@torch.no_grad() and calls each subclass's update_param for every parameter; the plain SGD in
optim/sgd.py updates the parameter in place there, without grad."""
import torch
import torch.nn.functional as F

from optim.sgd import PlainSGD

if __name__ == "__main__":
    model = torch.nn.Linear(3, 1)
    optimizer = PlainSGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    for _ in range(2):
        loss = F.mse_loss(model(torch.randn(4, 3)), torch.randn(4, 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not torch.equal(before, model.weight) and model.weight.is_leaf
