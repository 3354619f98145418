import torch

# fix: append_item@12:20
# fix: append_detach@13:23
# fix: append_item@14:32


def train_epoch(model, loader, optimizer, history: dict):
    running, losses = 0.0, []
    for x, y in loader:
        loss = torch.nn.functional.mse_loss(model(x), y)
        running += loss.item()
        losses.append(loss.detach())
        history["épreuve"] += (loss * 2).item()  # non-ASCII before the target
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return running, losses
