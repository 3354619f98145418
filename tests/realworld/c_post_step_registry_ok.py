# realworld: https://github.com/ultralytics/ultralytics/pull/25315
# family: C
"""Post-step parameter updates looked up by name in a registry: an EMA that moves an averaged
copy toward the student with `torch._foreach_lerp_`, and decoupled weight decay with
`torch._foreach_mul_`. The helpers take the models as arguments and are only ever called through
`POST_STEP[name](...)` inside `with torch.no_grad():`, as is the head reset that zeroes
`(head.weight, head.bias)` in a loop. The averaged copy is an ordinary, unfrozen model, so the
guard is what makes these writes legal. Correct: nothing raises, nothing keeps a graph.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def ema_lerp_(averaged, student, rate):
    torch._foreach_lerp_(list(averaged.parameters()), list(student.parameters()), rate)


def decoupled_decay_(averaged, student, rate):
    torch._foreach_mul_([p for p in student.parameters() if p.ndim > 1], 1 - rate)


POST_STEP = {"ema": ema_lerp_, "decay": decoupled_decay_}


class Trainer:
    def __init__(self, make_model, hooks):
        self.student, self.averaged = make_model(), make_model()
        self.averaged.load_state_dict(self.student.state_dict())
        self.opt = torch.optim.SGD(self.student.parameters(), lr=0.1)
        self.hooks = hooks

    def reset_head(self):
        head = self.student[-1]
        with torch.no_grad():
            for t in (head.weight, head.bias):
                t.zero_()

    def step(self, x, y):
        self.opt.zero_grad()
        F.cross_entropy(self.student(x), y).backward()
        self.opt.step()
        with torch.no_grad():
            for name, rate in self.hooks.items():
                POST_STEP[name](self.averaged, self.student, rate)


if __name__ == "__main__":
    trainer = Trainer(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), {"ema": 0.1, "decay": 0.01})
    trainer.reset_head()
    for _ in range(3):
        trainer.step(torch.randn(5, 4), torch.randint(0, 3, (5,)))
    assert all(p.requires_grad and p.grad_fn is None for p in trainer.averaged.parameters())
