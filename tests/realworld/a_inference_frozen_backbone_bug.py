# realworld: https://github.com/facebookresearch/dinov2/issues/399
# family: A
"""A frozen ViT-style encoder's `forward` is decorated `@torch.inference_mode()` (it was written
for feature extraction), and a depth decoder is fine-tuned on top of it. Freezing the encoder is
fine, but its feature maps are inference tensors: the decoder's first convolution saves them for
the weight gradient, so the probe's forward raises "Inference tensors cannot be saved for
backward"."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FrozenEncoder(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.patchify = nn.Conv2d(3, dim, kernel_size=4, stride=4)
        self.mixer = nn.Conv2d(dim, dim, kernel_size=1)
        self.requires_grad_(False)

    @torch.inference_mode()
    def forward(self, images):
        feats = self.patchify(images)
        return feats + self.mixer(feats).relu()


class DepthProbe(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.encoder = FrozenEncoder(dim)
        self.decoder = nn.Sequential(nn.Conv2d(dim, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 1, 1))

    def forward(self, images):
        feats = self.encoder(images)
        return self.decoder(feats).squeeze(1)  # finding: NG103  # raises: Inference tensors cannot be saved for backward


def finetune(probe, batches, opt):
    for images, depth in batches:
        pred = probe(images)
        loss = F.l1_loss(pred, depth)
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    model = DepthProbe()
    data = [(torch.randn(2, 3, 8, 8), torch.rand(2, 2, 2)) for _ in range(2)]
    finetune(model, data, torch.optim.AdamW(model.decoder.parameters(), lr=1e-3))
