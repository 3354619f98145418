# realworld: https://github.com/axolotl-ai-cloud/axolotl/pull/3240
# family: B
"""A regression `fit()` trains, then reports a held-out loss inline, after the training loop, in
the same function. The validation loop has a `with torch.no_grad():` block, but it covers only the
batch normalisation; the forward comes after the block, with grad on, so every validation batch
records a graph. The earlier training loop back-propagates, but nothing after the validation loop
needs grad: its result is a float."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def fit(model, opt, train_loader, val_loader, epochs, mean, std):
    model.train()
    for _ in range(epochs):
        for x, y in train_loader:
            opt.zero_grad()
            loss = F.mse_loss(model((x - mean) / std), y)
            loss.backward()
            opt.step()

    model.eval()
    val_loss, count = 0.0, 0
    for x, y in val_loader:  # finding: NG201
        with torch.no_grad():
            x = (x - mean) / std
            y = y.float()
        pred = model(x)
        val_loss += F.mse_loss(pred, y, reduction="sum").item()
        count += y.numel()
    return val_loss / count


if __name__ == "__main__":
    reg = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.1), nn.ReLU(), nn.Linear(16, 1))
    adam = torch.optim.Adam(reg.parameters(), lr=1e-2)
    train_data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]
    val_data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(2)]
    graph_flags = []
    reg[-1].register_forward_hook(
        lambda mod, inp, out: None if mod.training else graph_flags.append(out.requires_grad)
    )
    held_out = fit(reg, adam, train_data, val_data, 2, torch.zeros(4), torch.ones(4))
    assert graph_flags and all(graph_flags)  # runtime-check: the validation forward after the guard records a graph
