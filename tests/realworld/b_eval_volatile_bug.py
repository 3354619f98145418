# realworld: https://github.com/WuJie1010/Facial-Expression-Recognition.Pytorch/issues/87
# family: B
"""A ten-crop test loop written for PyTorch 0.3 wraps its inputs in `Variable(x, volatile=True)`
and its targets in `Variable(t, requires_grad=False)` to keep autograd out. Since 0.4 `Variable`
returns the plain tensor and `volatile` has no effect (only a warning), so the guard is dead:
the forward over every crop records a graph through the network's parameters. Variable(...) is no
need for grad either: nothing in the loop back-propagates."""
import torch
import torch.nn as nn
from torch.autograd import Variable


def build_net(features=12, classes=7):
    return nn.Sequential(nn.Linear(features, 24), nn.ReLU(), nn.Dropout(0.5), nn.Linear(24, classes))


def test_epoch(net, test_loader):
    net.eval()
    correct, total = 0, 0
    for inputs, targets in test_loader:  # finding: NG201
        bs, ncrops, feats = inputs.shape
        inputs = Variable(inputs.view(-1, feats), volatile=True)
        targets = Variable(targets, requires_grad=False)
        outputs = net(inputs)
        outputs_avg = outputs.view(bs, ncrops, -1).mean(1)
        correct += (outputs_avg.argmax(1) == targets).sum().item()
        total += targets.size(0)
    return 100.0 * correct / total


if __name__ == "__main__":
    net = build_net()
    graph_flags = []
    net[-1].register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    loader = [(torch.randn(2, 10, 12), torch.randint(0, 7, (2,))) for _ in range(3)]
    acc = test_epoch(net, loader)
    assert graph_flags and all(graph_flags)  # runtime-check: volatile=True does not stop the graph
