# realworld: https://github.com/samuelyu2002/ImVisible/issues/2
# family: B
"""Mean-teacher training: the EMA teacher's prediction is computed under `no_grad`, and the
consistency term is `F.mse_loss(teacher_pred, student_pred)`. The first operand has no graph, but
the second does, so the MSE has one: logging it with `cons_total += consistency` keeps every step's
student graph alive until the epoch ends. It wanted `consistency.item()` (as the report's fix did for
its MSE and cross-entropy running sums)."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


def train_epoch(model, teacher, loader, optimizer, weight=1.0, decay=0.99):
    cons_total = 0.0
    for x_lab, y, x_unl in loader:
        with torch.no_grad():
            teacher_pred = teacher(x_unl).softmax(-1)
        student_pred = model(x_unl).softmax(-1)
        consistency = F.mse_loss(teacher_pred, student_pred)
        loss = F.cross_entropy(model(x_lab), y) + weight * consistency
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for pt, ps in zip(teacher.parameters(), model.parameters()):
                pt.mul_(decay).add_(ps, alpha=1 - decay)
        cons_total += consistency  # finding: NG202
    return cons_total / len(loader)


if __name__ == "__main__":
    student = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    ema = copy.deepcopy(student)
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    data = [(torch.randn(3, 4), torch.randint(0, 3, (3,)), torch.randn(5, 4)) for _ in range(3)]
    avg = train_epoch(student, ema, data, opt)
    assert avg.grad_fn is not None  # runtime-check: every step's student graph is kept by the log
