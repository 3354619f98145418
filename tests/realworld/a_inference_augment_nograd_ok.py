# realworld: https://github.com/roboflow/rf-detr/pull/559
# family: A
"""The fix of the multi-scale augmentation bug, in a segmentation trainer: the random crop and
resize of images and masks run under `torch.no_grad()` instead of `torch.inference_mode()`. A
tensor made under no_grad is an ordinary tensor without a graph, so the trained network may save
it for backward; the loss back-propagates into the network's weights. Correct."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F


def crop_and_resize(images, masks, out=12):
    top, left = random.randint(0, 4), random.randint(0, 4)
    images = images[:, :, top:top + 12, left:left + 12]
    masks = masks[:, :, top:top + 12, left:left + 12]
    images = F.interpolate(images, size=(out, out), mode="bilinear", align_corners=False)
    masks = F.interpolate(masks, size=(out, out), mode="nearest")
    return images, masks


def fit(segmenter, loader, opt, epochs=2):
    segmenter.train()
    for _ in range(epochs):
        for images, masks in loader:
            with torch.no_grad():
                images, masks = crop_and_resize(images, masks)
            logits = segmenter(images)
            loss = F.binary_cross_entropy_with_logits(logits, masks)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return loss.item()


if __name__ == "__main__":
    seg = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))
    data = [(torch.randn(2, 3, 16, 16), (torch.rand(2, 1, 16, 16) > 0.5).float()) for _ in range(2)]
    fit(seg, data, torch.optim.Adam(seg.parameters(), lr=1e-2))
    assert seg[0].weight.grad is not None
