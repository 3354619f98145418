# realworld: https://github.com/NVlabs/stylegan2-ada-pytorch/issues/280
# family: C
"""Upgrading a saved network to a new class: the script builds the new network and copies the old
tensors in by name through `dict(new.named_parameters())`. The dict's values are the new network's
Parameters, so `targets[name].copy_(...)` with grad on raises "a leaf Variable that requires grad
is being used in an in-place operation". The one-off reset of the classifier through the same
kind of lookup has the same bug; the run stops before it.
"""
import torch
import torch.nn as nn


class NewNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.body(x)))


def upgrade(old_state):
    net = NewNet()
    targets = dict(net.named_parameters())
    for name, value in old_state.items():  # finding: NG301
        if name in targets:
            targets[name].copy_(value)  # raises: leaf Variable that requires grad is being used in an in-place operation
    dict(net.named_parameters())["fc.weight"].fill_(0.0)  # finding: NG301
    return net


if __name__ == "__main__":
    old = {k: torch.randn_like(v) for k, v in NewNet().state_dict().items()}
    print(upgrade(old)(torch.randn(3, 4)).shape)
