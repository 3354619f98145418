# realworld: https://github.com/ludwig-ai/ludwig/pull/1674
# family: B
"""The regression `fit()` again validates inline after its training loop, but the whole
validation loop, normalisation and forward alike, runs under `torch.inference_mode()`; only
Python floats leave the block. Correct."""
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
    with torch.inference_mode():
        for x, y in val_loader:
            x = (x - mean) / std
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
    for _ in range(2):
        held_out = fit(reg, adam, train_data, val_data, 1, torch.zeros(4), torch.ones(4))
    assert graph_flags and not any(graph_flags)
