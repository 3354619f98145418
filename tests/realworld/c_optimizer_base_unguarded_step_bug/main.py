# realworld: https://github.com/pytorch/torchdynamo/issues/1076
# family: C
"""The project's Optimizer base class (optim/base.py) calls each subclass's update_param from a step()
that is not decorated @torch.no_grad(); the plain SGD in optim/sgd.py updates the parameter in
place with grad enabled, which raises."""
import torch
import torch.nn.functional as F

from optim import PlainSGD

if __name__ == "__main__":
    model = torch.nn.Linear(3, 1)
    optimizer = PlainSGD(model.parameters(), lr=0.1)
    loss = F.mse_loss(model(torch.randn(4, 3)), torch.randn(4, 1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
