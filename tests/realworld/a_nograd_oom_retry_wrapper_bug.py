# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/18254
# family: A
"""A training loop routes every step through `run_with_oom_retry()`, a wrapper that halves the
batch and tries again on CUDA out-of-memory. The wrapper was first written for batched inference
and is decorated `@torch.no_grad()`, so the step function it calls runs grad-off: the loss it
computes has no graph and `loss.backward()` inside `train_step` raises."""
import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.no_grad()
def run_with_oom_retry(step_fn, x, y, tries=3):
    for _ in range(tries):
        try:
            return step_fn(x, y)
        except torch.cuda.OutOfMemoryError:
            half = max(1, x.shape[0] // 2)
            x, y = x[:half], y[:half]
    raise RuntimeError("out of memory even at the smallest batch")


def make_train_step(model, opt):
    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()  # finding: NG101  # raises: does not require grad
        opt.step()
        return loss.item()
    return train_step


def fit(model, batches, lr=0.05):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    step = make_train_step(model, opt)
    return [run_with_oom_retry(step, x, y) for x, y in batches]


if __name__ == "__main__":
    clf = nn.Linear(6, 3)
    fit(clf, [(torch.randn(4, 6), torch.tensor([0, 2, 1, 0]))])
