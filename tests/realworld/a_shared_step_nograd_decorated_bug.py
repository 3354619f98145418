# realworld: https://github.com/nianticlabs/monodepth2/issues/24
# family: A
"""A depth trainer shares one `shared_step()` between training and validation; since validation
should not keep activations, someone decorated `shared_step` itself with `@torch.no_grad()`.
`loss, logs = self.shared_step(batch)` in the training loop then unpacks a loss computed with grad
off, and `loss.backward()` raises. The value crosses a method call and a tuple unpack."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DepthTrainer:
    def __init__(self, net, lr=1e-2):
        self.net = net
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)

    @torch.no_grad()
    def shared_step(self, batch):
        image, depth = batch
        pred = self.net(image)
        l1 = F.l1_loss(pred, depth)
        smooth = (pred[:, :, 1:] - pred[:, :, :-1]).abs().mean()
        loss = l1 + 0.1 * smooth
        return loss, {"l1": l1.item(), "smooth": smooth.item()}

    def validate(self, batches):
        return sum(self.shared_step(b)[1]["l1"] for b in batches) / len(batches)

    def train_epoch(self, batches):
        history = []
        for batch in batches:
            loss, logs = self.shared_step(batch)
            self.opt.zero_grad()
            loss.backward()  # finding: NG101  # raises: does not require grad
            self.opt.step()
            history.append(logs)
        return history


if __name__ == "__main__":
    model = nn.Sequential(nn.Linear(6, 6), nn.Softplus())
    trainer = DepthTrainer(model)
    data = [(torch.randn(2, 3, 6), torch.rand(2, 3, 6)) for _ in range(2)]
    trainer.validate(data)
    trainer.train_epoch(data)
