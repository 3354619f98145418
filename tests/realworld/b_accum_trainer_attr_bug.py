# realworld: https://github.com/huggingface/transformers/pull/6999
# family: B
"""A small Trainer keeps the epoch's running loss on itself (`self.running_loss += loss`), where the
loss comes from the trainer's own `compute_loss()`, which takes the first element of the criterion's
tuple. That loss was just back-propagated, so it carries the step's graph: adding it to the attribute
chains every step's graph to the running total, and nothing is freed until the epoch ends (host RAM
grows with the step count). `loss.item()` or `loss.detach()` was wanted."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class WeightedCE(nn.Module):
    def forward(self, logits, target):
        per_sample = F.cross_entropy(logits, target, reduction="none")
        return per_sample.mean(), per_sample


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.criterion = WeightedCE()
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        self.running_loss = 0.0

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
            self.running_loss += loss  # finding: NG202
        return self.running_loss / len(loader)


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    data = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(3)]
    trainer = Trainer(net)
    trainer.train_epoch(data)
    assert trainer.running_loss.grad_fn is not None  # runtime-check: graphs kept on self
