# realworld: https://github.com/gentaiscool/end2end-asr-pytorch/issues/29
# family: B
"""The step-based `train()` again validates every few steps inside its training loop, now with
the validation pass under `torch.no_grad()`, as the report's fix does. The training step before it
keeps its grad and back-propagates as usual. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def train(model, optimizer, train_loader, val_loader, eval_every=2):
    history = []
    model.train()
    for step, (x, y) in enumerate(train_loader):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0:
            model.eval()
            val_loss, seen = 0.0, 0
            with torch.no_grad():
                for x, y in val_loader:
                    logits = model(x)
                    val_loss += F.cross_entropy(logits, y, reduction="sum").item()
                    seen += y.numel()
            history.append(val_loss / seen)
            model.train()
    return history


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.2), nn.ReLU(), nn.Linear(16, 4))
    sgd = torch.optim.SGD(net.parameters(), lr=0.05)
    train_batches = [(torch.randn(8, 6), torch.randint(0, 4, (8,))) for _ in range(4)]
    val_batches = [(torch.randn(8, 6), torch.randint(0, 4, (8,))) for _ in range(2)]
    graph_flags = []
    net[-1].register_forward_hook(
        lambda mod, inp, out: None if mod.training else graph_flags.append(out.requires_grad)
    )
    curve = train(net, sgd, train_batches, val_batches)
    assert len(curve) == 2
    assert graph_flags and not any(graph_flags)
