# realworld: https://github.com/open-lm-engine/lm-engine/pull/253
# family: A
"""Knowledge distillation with the teacher's soft targets prepared by a helper decorated with the
bare `@torch.inference_mode` (no parentheses, which works as a decorator) and carried to the
training step in a dataclass. The targets are inference tensors; `F.kl_div` saves its target to
compute the gradient for the student's log-probabilities, so the student's loss raises "Inference
tensors cannot be saved for backward". The dataclass hop does not change what the tensor is."""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class DistillBatch:
    tokens: torch.Tensor
    teacher_probs: torch.Tensor


@torch.inference_mode
def prepare(teacher, tokens, temperature=2.0):
    logits = teacher(tokens)
    return DistillBatch(tokens=tokens, teacher_probs=(logits / temperature).softmax(-1))


def distill_step(student, batch, opt, temperature=2.0):
    student_logp = (student(batch.tokens) / temperature).log_softmax(-1)
    loss = F.kl_div(student_logp, batch.teacher_probs, reduction="batchmean")  # finding: NG103  # raises: Inference tensors cannot be saved for backward
    opt.zero_grad()
    (loss * temperature ** 2).backward()
    opt.step()
    return loss.item()


if __name__ == "__main__":
    vocab = 12
    teacher = nn.Sequential(nn.Embedding(vocab, 16), nn.Linear(16, vocab)).eval()
    student = nn.Sequential(nn.Embedding(vocab, 4), nn.Linear(4, vocab))
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    for _ in range(2):
        batch = prepare(teacher, torch.randint(0, vocab, (3, 5)))
        distill_step(student, batch, opt)
