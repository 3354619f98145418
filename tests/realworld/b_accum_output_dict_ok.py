# realworld: https://github.com/TRI-ML/packnet-sfm/pull/51
# family: B
"""The fix of a depth trainer that kept every step's output dict: after back-propagating
`output["loss"]`, the entry is replaced by `output["loss"].detach()` before the dict is appended,
and the dict's only other entry is a metric the model already computed from a detached prediction.
The kept dicts hold no graph, so each step's graph is freed."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DepthNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))

    def forward(self, batch):
        depth = F.softplus(self.body(batch["rgb"]))
        gt = batch["depth_gt"]
        abs_rel = ((depth.detach() - gt).abs() / gt.clamp(min=1e-3)).mean()
        return {"loss": F.l1_loss(depth, gt), "abs_rel": abs_rel}


def train_epoch(model, loader, optimizer):
    outputs = []
    for batch in loader:
        optimizer.zero_grad()
        output = model(batch)
        output["loss"].backward()
        optimizer.step()
        output["loss"] = output["loss"].detach()
        outputs.append(output)
    return outputs


if __name__ == "__main__":
    net = DepthNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = [{"rgb": torch.randn(2, 3, 8, 8), "depth_gt": torch.rand(2, 1, 8, 8)} for _ in range(3)]
    kept = train_epoch(net, data, opt)
    assert all(v.grad_fn is None for o in kept for v in o.values())
