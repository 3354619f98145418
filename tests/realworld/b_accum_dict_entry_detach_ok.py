# realworld: https://github.com/guopengf/FL-MRCM/issues/10
# family: B
"""Mean-teacher training logged correctly: the per-term sums live in a dict and take
`.detach()`ed values (`stats["cons"] += consistency.detach()`), and the drift between teacher and
student is measured on a detached student prediction, `F.mse_loss(teacher_pred,
student_pred.detach())`, whose operands both have no graph. The loss that is back-propagated keeps
its graph only for its own step."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


def train_epoch(model, teacher, loader, optimizer, weight=1.0, decay=0.99):
    stats = {"sup": 0.0, "cons": 0.0}
    drift = []
    for x_lab, y, x_unl in loader:
        with torch.no_grad():
            teacher_pred = teacher(x_unl).softmax(-1)
        student_pred = model(x_unl).softmax(-1)
        consistency = F.mse_loss(student_pred, teacher_pred)
        supervised = F.cross_entropy(model(x_lab), y)
        optimizer.zero_grad()
        (supervised + weight * consistency).backward()
        optimizer.step()
        with torch.no_grad():
            for pt, ps in zip(teacher.parameters(), model.parameters()):
                pt.mul_(decay).add_(ps, alpha=1 - decay)
        stats["sup"] += supervised.detach()
        stats["cons"] += consistency.detach()
        drift.append(F.mse_loss(teacher_pred, student_pred.detach()))
    return stats, drift


if __name__ == "__main__":
    student = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    ema = copy.deepcopy(student)
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    data = [(torch.randn(3, 4), torch.randint(0, 3, (3,)), torch.randn(5, 4)) for _ in range(3)]
    stats, drift = train_epoch(student, ema, data, opt)
    assert all(v.grad_fn is None for v in stats.values())
    assert all(d.grad_fn is None for d in drift)
