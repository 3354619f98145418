# realworld: https://github.com/lucidrains/ema-pytorch/pull/2
# family: C
"""A mean-teacher training loop with the in-place updates that are all legal with grad on: the
teacher is `copy.deepcopy(student).requires_grad_(False)`, so `mul_`/`add_` on its parameters
touch no grad-requiring leaf; BatchNorm running statistics and a registered step counter are
buffers; and the gradient-accumulation rescale `p.grad.div_(k)` writes gradients, not
parameters. Correct: nothing raises and the teacher keeps no graph.
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        self.register_buffer("seen", torch.zeros(()))

    def forward(self, x):
        self.seen += x.shape[0]
        return self.body(x)


def fit(student, batches, accum=2, decay=0.9):
    teacher = copy.deepcopy(student).requires_grad_(False)
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    for i, (x, y) in enumerate(batches, 1):
        F.cross_entropy(student(x), y).backward()
        if i % accum:
            continue
        for p in student.parameters():
            p.grad.div_(accum)
        opt.step()
        opt.zero_grad()
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(decay).add_(s.detach(), alpha=1 - decay)
        for tb, sb in zip(teacher.buffers(), student.buffers()):
            tb.copy_(sb)
    return teacher


if __name__ == "__main__":
    data = [(torch.randn(6, 4), torch.randint(0, 3, (6,))) for _ in range(4)]
    teacher = fit(Student(), data)
    assert all(p.grad_fn is None and not p.requires_grad for p in teacher.parameters())
    assert teacher.seen.item() == 24
