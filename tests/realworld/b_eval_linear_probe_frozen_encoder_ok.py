# realworld: https://github.com/facebookresearch/dino/issues/141
# family: B
"""Linear-probe training: the pretrained encoder is in eval mode and its forward sits under
`torch.no_grad()`, while the linear head after the block runs with grad and is trained on the
frozen features. One model under the guard and the next outside it, as in the captioning bug,
but here the second model is the one being trained: its loss is back-propagated. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def train_probe(encoder, head, optimizer, train_loader, epochs=2):
    encoder.eval()
    head.train()
    for _ in range(epochs):
        for images, labels in train_loader:
            with torch.no_grad():
                feats = encoder(images).flatten(1)
            logits = head(feats)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()


if __name__ == "__main__":
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    probe = nn.Linear(8, 4)
    sgd = torch.optim.SGD(probe.parameters(), lr=0.1)
    batches = [(torch.randn(4, 3, 8, 8), torch.randint(0, 4, (4,))) for _ in range(3)]
    final = train_probe(backbone, probe, sgd, batches)
    assert probe.weight.grad is not None
    assert all(p.grad is None for p in backbone.parameters())
