# realworld: https://github.com/Hunter-DDM/knowledge-neurons/issues/14
# family: C
"""Knowledge-neuron editing: to erase what a few FFN neurons store, the script takes the output
projection's weight into a local name, `w = block.ffn_out.weight`, and zeroes the neurons'
columns with `w[:, idx] = 0.0`. The alias is the Parameter itself, so with grad on the item
assignment raises "a leaf Variable that requires grad is being used in an in-place operation".
The follow-up that re-initialises the task head zeroes `(head.weight, head.bias)` in a loop, the
same bug through a tuple of parameters; the run stops before it. Both helpers are given the
modules by their calls, whose grad mode decides: the findings are at the calls.
"""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim=8, hidden=16):
        super().__init__()
        self.ffn_in = nn.Linear(dim, hidden)
        self.ffn_out = nn.Linear(hidden, dim)

    def forward(self, x):
        return x + self.ffn_out(torch.relu(self.ffn_in(x)))


def erase_neurons(block, idx):
    saved = block.ffn_out.weight[:, idx].detach().clone()
    w = block.ffn_out.weight
    w[:, idx] = 0.0  # raises: leaf Variable that requires grad is being used in an in-place operation
    return saved


def reset_head(head):
    for t in (head.weight, head.bias):
        t.zero_()


if __name__ == "__main__":
    block, head = Block(), nn.Linear(8, 3)
    erase_neurons(block, [2, 5])  # finding: NG301
    reset_head(head)  # finding: NG301
