# realworld: https://github.com/roman-vygon/triplet_loss_kws/issues/6
# family: A
"""A keyword-spotting triplet loss computes its distances under `torch.no_grad()` ("we only need
the values"), so the mean loss has no graph and `backward()` complains. The suggested fix sets
`mean_loss.requires_grad = True`: backward then runs on a fresh leaf that is connected to
nothing, and the encoder never receives a gradient; training silently does nothing."""
import torch
import torch.nn as nn


def triplet_margin_loss(anchor, positive, negative, margin=0.5):
    with torch.no_grad():
        d_pos = (anchor - positive).pow(2).sum(dim=1)
        d_neg = (anchor - negative).pow(2).sum(dim=1)
        losses = (d_pos - d_neg + margin).clamp(min=0)
    mean_loss = losses.mean()
    mean_loss.requires_grad = True  # finding: NG102
    return mean_loss


def train_step(encoder, anchor, positive, negative, opt):
    loss = triplet_margin_loss(encoder(anchor), encoder(positive), encoder(negative), margin=5.0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


if __name__ == "__main__":
    enc = nn.Linear(10, 4)
    sgd = torch.optim.SGD(enc.parameters(), lr=0.1)
    train_step(enc, torch.randn(6, 10), torch.randn(6, 10), torch.randn(6, 10), sgd)
    assert enc.weight.grad is None  # runtime-check: the loss is a detached leaf, so no parameter gets a gradient
