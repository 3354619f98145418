# realworld: https://github.com/roboflow/rf-detr/issues/297
# family: A
"""A detector's training epoch applies a random multi-scale resize to every batch inside
`with torch.inference_mode():`, reasoning that the augmentation needs no gradient. The resized
images are inference tensors, and the first convolution of the trained model must save its input
for the weight gradient: the forward raises "Inference tensors cannot be saved for backward"."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALES = (12, 16, 20)


def random_rescale(images):
    side = random.choice(SCALES)
    return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)


def train_one_epoch(model, loader, opt):
    model.train()
    running = 0.0
    for images, labels in loader:
        with torch.inference_mode():
            images = random_rescale(images)
        logits = model(images)  # finding: NG103  # raises: Inference tensors cannot be saved for backward
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
    return running / len(loader)


if __name__ == "__main__":
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(6, 4))
    batches = [(torch.randn(2, 3, 16, 16), torch.randint(0, 4, (2,))) for _ in range(3)]
    train_one_epoch(net, batches, torch.optim.SGD(net.parameters(), lr=0.05))
