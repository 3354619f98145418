# realworld: https://github.com/gentaiscool/end2end-asr-pytorch/issues/29
# family: B
"""A step-based `train()` validates every few optimizer steps, inside the training loop: under
`if step % eval_every == 0:` it switches the model to eval() and runs the whole validation set.
The function back-propagates, but the validation loop itself never does, and nothing it binds
reaches the next backward (each training step binds its own batch and loss first). Without a guard
every validation batch records a graph, and the validation pass runs out of memory where training
did not."""
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
            for x, y in val_loader:  # finding: NG201
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
    assert graph_flags and all(graph_flags)  # runtime-check: every validation forward inside the step loop records a graph
