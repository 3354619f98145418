# realworld: https://github.com/xtcpete/rdd/issues/11
# family: A
"""A soft-argmax keypoint head caches its pixel-coordinate grid on `self` the first time it is
needed. The first call happens in `detect()`, decorated `@torch.inference_mode()` and used to log
a preview before training, so the cached grid is an inference tensor. In training the same
`probs @ grid` must save the grid to compute the gradient of `probs`, and raises "Inference
tensors cannot be saved for backward" on the first training step."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SoftKeypointHead(nn.Module):
    def __init__(self, channels, height, width):
        super().__init__()
        self.score = nn.Conv2d(channels, 1, kernel_size=1)
        self.height, self.width = height, width
        self._grid = None

    def grid(self):
        if self._grid is None:
            ys, xs = torch.meshgrid(torch.arange(self.height, dtype=torch.float32),
                                    torch.arange(self.width, dtype=torch.float32), indexing="ij")
            self._grid = torch.stack([xs.flatten(), ys.flatten()], dim=-1)
        return self._grid

    def forward(self, fmap):
        probs = self.score(fmap).flatten(1).softmax(-1)
        return probs @ self.grid()  # finding: NG103  # raises: Inference tensors cannot be saved for backward

    @torch.inference_mode()
    def detect(self, fmap):
        return self(fmap).round()


def train(head, batches, opt):
    for fmap, target_xy in batches:
        loss = F.smooth_l1_loss(head(fmap), target_xy)
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    head = SoftKeypointHead(4, 6, 6)
    batches = [(torch.randn(2, 4, 6, 6), torch.rand(2, 2) * 5) for _ in range(2)]
    print("preview:", head.detect(batches[0][0]).tolist())
    train(head, batches, torch.optim.SGD(head.parameters(), lr=0.1))
