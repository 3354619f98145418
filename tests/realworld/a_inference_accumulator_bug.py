# realworld: https://github.com/mrdbourke/pytorch-deep-learning/issues/397
# family: A
"""A validation helper builds per-class loss sums and counts inside `with torch.inference_mode():`
(tensors allocated and filled there are inference tensors) and turns the sums into means with an
in-place division after the block. An inference tensor may not be updated in place outside
inference mode: the division raises "Inplace update to inference tensor outside InferenceMode is
not allowed"."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def per_class_loss(model, loader, num_classes):
    model.eval()
    with torch.inference_mode():
        sums = torch.zeros(num_classes)
        counts = torch.zeros(num_classes)
        for x, y in loader:
            losses = F.cross_entropy(model(x), y, reduction="none")
            sums.index_add_(0, y, losses)
            counts.index_add_(0, y, torch.ones_like(losses))
    sums /= counts.clamp(min=1)  # finding: NG103  # raises: Inplace update to inference tensor outside InferenceMode is not allowed
    model.train()
    return sums


if __name__ == "__main__":
    clf = nn.Linear(5, 3)
    val = [(torch.randn(4, 5), torch.randint(0, 3, (4,))) for _ in range(3)]
    print(per_class_loss(clf, val, 3))
