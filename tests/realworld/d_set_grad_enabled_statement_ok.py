# realworld: https://github.com/choyingw/SynergyNet/pull/22
# family: D
"""A face-detector inference script switches autograd off for the whole process with
`torch.set_grad_enabled(False)` written as a statement. Unlike `torch.no_grad()` alone on a line,
`set_grad_enabled(...)` sets the global flag when it is constructed, so the statement really
works: the detection loop below accumulates scores and boxes that keep no graph. Correct.
"""
import torch
import torch.nn as nn


class BoxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.score = nn.Linear(4, 1)
        self.box = nn.Linear(4, 4)

    def forward(self, image):
        feats = self.backbone(image).flatten(1)
        return self.score(feats).sigmoid(), self.box(feats)


def detect_all(head, images, threshold=0.0):
    kept, total_score = [], 0.0
    for image in images:
        score, box = head(image)
        total_score += score.sum()
        kept.append(box[score.squeeze(1) > threshold])
    return kept, total_score


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    head = BoxHead()
    boxes, total = detect_all(head, [torch.randn(1, 3, 8, 8) for _ in range(3)])
    assert not total.requires_grad and all(b.grad_fn is None for b in boxes)
