# realworld: https://github.com/pytorch/pytorch/issues/91529
# family: A
"""The look-alike: the package's helpers detach and clone only the teacher's targets; the student's
features come back through a helper that keeps the graph, so the loss back-propagates."""
import torch
import torch.nn as nn

from distill.train import distill_step

if __name__ == "__main__":
    teacher, student = nn.Linear(5, 4), nn.Linear(5, 4)
    loss = distill_step(student, teacher, torch.randn(6, 5), torch.optim.SGD(student.parameters(), lr=0.1))
    assert loss.grad_fn is not None and student.weight.grad is not None
