# realworld: https://github.com/skorch-dev/skorch/issues/218
# family: B
"""The skorch-like `NeuralNet` with the report's fix: `validation_step` runs its forward and loss
under `torch.no_grad()`, so the loss and predictions it hands back carry no graph, and `fit()`
reads them out as numbers. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class NeuralNet:
    def __init__(self, module, lr=0.05):
        self.module_ = module
        self.optimizer_ = torch.optim.SGD(module.parameters(), lr=lr)
        self.history = []

    def train_step(self, batch):
        self.module_.train()
        x, y = batch
        self.optimizer_.zero_grad()
        loss = F.cross_entropy(self.module_(x), y)
        loss.backward()
        self.optimizer_.step()
        return {"loss": loss.item()}

    def validation_step(self, batch):
        self.module_.eval()
        x, y = batch
        with torch.no_grad():
            y_pred = self.module_(x)
            loss = F.cross_entropy(y_pred, y)
        return {"loss": loss, "y_pred": y_pred}

    def fit(self, train_loader, valid_loader, epochs=2):
        for _ in range(epochs):
            for batch in train_loader:
                self.train_step(batch)
            valid_losses = []
            for batch in valid_loader:
                step = self.validation_step(batch)
                valid_losses.append(step["loss"].item())
            self.history.append(sum(valid_losses) / len(valid_losses))
        return self


if __name__ == "__main__":
    module = nn.Sequential(nn.Linear(6, 10), nn.Dropout(0.1), nn.ReLU(), nn.Linear(10, 3))
    graph_flags = []
    module[-1].register_forward_hook(
        lambda mod, inp, out: None if mod.training else graph_flags.append(out.requires_grad)
    )
    data = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(3)]
    net = NeuralNet(module).fit(data, data[:2])
    assert len(net.history) == 2
    assert graph_flags and not any(graph_flags)
