"""Validation every few steps inside the training loop (NG201): only the validation loop is wrapped,
the training step keeps its grad."""
import torch
import torch.nn.functional as F


def train(model, optimizer, train_loader, val_loader, eval_every=50):
    for step, (x, y) in enumerate(train_loader):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step % eval_every == 0:
            model.eval()
            correct = 0
            for vx, vy in val_loader:
                correct += (model(vx).argmax(-1) == vy).sum().item()
            model.train()
            print(step, correct)
