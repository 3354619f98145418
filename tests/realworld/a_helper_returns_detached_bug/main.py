# realworld: https://github.com/pytorch/pytorch/issues/92586
# family: A
"""Distillation: the student's embedding comes from mylib.embed, written for the frozen teacher, which
returns a detached tensor; the loss of two detached embeddings has no graph and backward() raises."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mylib import embed


def distill_step(student, teacher, x, optimizer):
    target = embed(teacher, x)
    prediction = embed(student, x)
    loss = F.mse_loss(prediction, target)
    optimizer.zero_grad()
    loss.backward()  # finding: NG101  # raises: does not require grad
    optimizer.step()
    return loss.item()


if __name__ == "__main__":
    teacher, student = nn.Linear(5, 4), nn.Linear(5, 4)
    distill_step(student, teacher, torch.randn(6, 5), torch.optim.SGD(student.parameters(), lr=0.1))
