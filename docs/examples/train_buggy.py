"""A small but realistic training script with the gradient-context mistakes flake8-nograd finds.

Run `flake8 --select NG docs/examples/` to see them. Every marked line is a real bug.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self, d_in: int = 8, d_hidden: int = 16, n_classes: int = 3) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.fc2 = nn.Linear(d_hidden, n_classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def make_loader(n: int = 64) -> DataLoader:
    x = torch.randn(n, 8)
    y = torch.randint(0, 3, (n,))
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)


def train_one_epoch(model, loader, optimizer):
    model.train()
    for inputs, targets in loader:
        optimizer.zero_grad()
        # Bug: the guard meant for logging wraps the forward pass, so loss has no graph.
        with torch.no_grad():
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
        loss.backward()  # NG101: RuntimeError, element 0 of tensors does not require grad
        optimizer.step()


def train_manual_sgd(model, loader, lr=0.1):
    model.train()
    total_loss = 0.0
    for inputs, targets in loader:
        model.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        for param in model.parameters():
            param -= lr * param.grad  # NG301: RuntimeError, in-place update of a leaf that requires grad
        total_loss += loss  # NG202: keeps every batch's graph alive; use loss.item()
    return total_loss / len(loader)


def evaluate(model, loader):
    model.eval()
    torch.no_grad()  # NG402: creates a context manager and does nothing
    correct = 0
    for inputs, targets in loader:  # NG201: a graph for every batch, grad is still on
        correct += (model(inputs).argmax(dim=1) == targets).sum().item()
    return correct / len(loader.dataset)


def predict(model, inputs):
    with torch.no_grad:  # NG401: TypeError, the class is not a context manager
        return model(inputs).argmax(dim=1)


if __name__ == "__main__":
    model = MLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = make_loader()
    train_one_epoch(model, loader, optimizer)
    print("accuracy", evaluate(model, loader))
