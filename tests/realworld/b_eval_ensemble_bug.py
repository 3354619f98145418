# realworld: https://github.com/pytorch/pytorch/issues/23309
# family: B
"""A snapshot ensemble keeps its members in an `nn.ModuleList` and evaluates the averaged
prediction by indexing the container, `self.members[k](x)`. The container is switched to eval()
(which reaches every member), but grad is still on: each batch records one graph per member.
The forward's callee is a subscript of a model container, not a name or attribute."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SnapshotEnsemble:
    def __init__(self, members):
        self.members = nn.ModuleList(members)

    def evaluate(self, loader):
        self.members.eval()
        nll, hits, n = 0.0, 0, 0
        for x, y in loader:  # finding: NG201
            probs = sum(self.members[i](x).softmax(-1) for i in range(len(self.members)))
            probs = probs / len(self.members)
            nll += F.nll_loss(probs.log(), y, reduction="sum").item()
            hits += (probs.argmax(-1) == y).sum().item()
            n += y.numel()
        return nll / n, hits / n


if __name__ == "__main__":
    snaps = [nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)) for _ in range(3)]
    ens = SnapshotEnsemble(snaps)
    graph_flags = []
    for snap in snaps:
        snap[-1].register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    data = [(torch.randn(4, 5), torch.randint(0, 3, (4,))) for _ in range(2)]
    loss, acc = ens.evaluate(data)
    assert len(graph_flags) == 6 and all(graph_flags)  # runtime-check: every member's forward records a graph
