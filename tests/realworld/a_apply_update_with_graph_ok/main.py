# realworld: https://github.com/rasbt/LLMs-from-scratch/pull/119
# family: A
"""The look-alike: the training loss keeps its graph and goes to the re-exported apply_update; only
the held-out loss is computed under no_grad, and it is only printed, never back-propagated."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from trainlib import apply_update


def fit(model, batches, held_out, optimizer):
    for inputs, labels in batches:
        loss = F.cross_entropy(model(inputs), labels)
        apply_update(loss, optimizer)
        with torch.no_grad():
            held_out_loss = F.cross_entropy(model(held_out[0]), held_out[1])
        print(f"train {loss.item():.3f}  held-out {held_out_loss.item():.3f}")
    return held_out_loss


if __name__ == "__main__":
    model = nn.Linear(4, 3)
    batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
    held_out = (torch.randn(8, 4), torch.randint(0, 3, (8,)))
    last = fit(model, batches, held_out, torch.optim.SGD(model.parameters(), lr=0.1))
    assert last.grad_fn is None
