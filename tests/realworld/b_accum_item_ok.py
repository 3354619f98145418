# realworld: https://github.com/google/brax/pull/152
# family: B
"""The same kind of Trainer as a leaky one, written correctly: the loss from the trainer's own
`compute_loss()` (the first element of the criterion's tuple) is back-propagated, then only its value
is kept, `self.running_loss += loss.item()`, and the per-step history holds `loss.detach()`. Neither
keeps a graph, so each step's graph is freed when the next step rebinds `loss`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LabelSmoothedCE(nn.Module):
    def forward(self, logits, target):
        loss = F.cross_entropy(logits, target, label_smoothing=0.1)
        return loss, logits.argmax(-1)


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.criterion = LabelSmoothedCE()
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        self.running_loss = 0.0
        self.history = []

    def compute_loss(self, batch):
        x, y = batch
        return self.criterion(self.model(x), y)[0]

    def train_epoch(self, loader):
        self.running_loss = 0.0
        for batch in loader:
            self.optimizer.zero_grad()
            loss = self.compute_loss(batch)
            loss.backward()
            self.optimizer.step()
            self.running_loss += loss.item()
            self.history.append(loss.detach())
        return self.running_loss / len(loader)


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    data = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(3)]
    trainer = Trainer(net)
    trainer.train_epoch(data)
    assert isinstance(trainer.running_loss, float)
    assert all(t.grad_fn is None for t in trainer.history)
