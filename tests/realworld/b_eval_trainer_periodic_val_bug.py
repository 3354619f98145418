# realworld: https://github.com/facebookresearch/fairchem/pull/199
# family: B
"""A small `Trainer.train()` runs its epochs and, every `val_every` epochs, evaluates on the held-out
batches in the same method: `self.model.eval()`, then a loop that turns each forward into Python
numbers. The method trains (the epoch's first loop back-propagates), but the evaluation loop after
it does not, and nothing it computes is back-propagated later: it runs with grad on and records a
graph per batch, which is why validation used more memory than training."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Trainer:
    def __init__(self, model, train_batches, held_out, val_every=2, lr=0.05):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.train_batches = train_batches
        self.held_out = held_out
        self.val_every = val_every
        self.val_mae = []

    def train(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            for x, y in self.train_batches:
                self.optimizer.zero_grad()
                loss = F.l1_loss(self.model(x), y)
                loss.backward()
                self.optimizer.step()
            if (epoch + 1) % self.val_every == 0:
                self.model.eval()
                errors = []
                for x, y in self.held_out:  # finding: NG201
                    pred = self.model(x)
                    errors.append((pred - y).abs().mean().item())
                self.val_mae.append(sum(errors) / len(errors))


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 1))
    batches = [(torch.randn(6, 5), torch.randn(6, 1)) for _ in range(3)]
    trainer = Trainer(net, batches, batches[:2])
    graph_flags = []
    net[-1].register_forward_hook(
        lambda mod, inp, out: None if mod.training else graph_flags.append(out.requires_grad)
    )
    trainer.train(4)
    assert len(trainer.val_mae) == 2
    assert graph_flags and all(graph_flags)  # runtime-check: the held-out forwards record graphs
