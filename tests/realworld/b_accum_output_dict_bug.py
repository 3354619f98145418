# realworld: https://github.com/TRI-ML/packnet-sfm/issues/47
# family: B
"""A depth module's `training_step()` returns a dict (`{"loss": ..., "depth": ...}`); the trainer
back-propagates `output["loss"]`, adds that loss to a running sum and keeps every step's output dict
for an end-of-epoch summary. The loss has just been back-propagated, so it has a graph, and the dict
holds both it and the prediction: the running sum and the list keep every batch's graph alive for
the whole epoch (memory grows per step). The running sum wanted `loss.item()`; the kept dict wanted
its entries detached."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DepthNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))

    def forward(self, rgb):
        return F.softplus(self.body(rgb))

    def training_step(self, batch):
        depth = self(batch["rgb"])
        return {"loss": F.l1_loss(depth, batch["depth_gt"]), "depth": depth}


def train_epoch(module, loader, optimizer):
    outputs = []
    running = 0.0
    for batch in loader:
        optimizer.zero_grad()
        output = module.training_step(batch)
        loss = output["loss"]
        loss.backward()
        optimizer.step()
        running += loss  # finding: NG202
        outputs.append(output)  # finding: NG202
    return running / len(loader), outputs


if __name__ == "__main__":
    net = DepthNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = [{"rgb": torch.randn(2, 3, 8, 8), "depth_gt": torch.rand(2, 1, 8, 8)} for _ in range(3)]
    mean_loss, kept = train_epoch(net, data, opt)
    assert mean_loss.grad_fn is not None  # runtime-check: the running sum chains every step's graph
    assert all(o["loss"].grad_fn is not None for o in kept)  # runtime-check: every kept dict holds its graph
