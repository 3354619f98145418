# realworld: https://github.com/tristandeleu/pytorch-maml/issues/19
# family: B
"""A first-order meta-learning step: inside the training loop, after adapting on the support batch,
the model is switched to eval() (no dropout noise in the query pass) and a loop over the task's
validation (query) batches sums their losses into `meta_loss`, which the training step then
back-propagates. The inner loop looks like evaluation, but what it computes reaches the backward:
grad is needed there. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def meta_train(model, meta_opt, tasks, inner_lr=0.1):
    for support, val_batches in tasks:
        model.train()
        sx, sy = support
        support_loss = F.cross_entropy(model(sx), sy)
        grads = torch.autograd.grad(support_loss, list(model.parameters()))
        with torch.no_grad():
            for p, g in zip(model.parameters(), grads):
                p -= inner_lr * g
        model.eval()
        meta_loss = 0.0
        for qx, qy in val_batches:
            meta_loss = meta_loss + F.cross_entropy(model(qx), qy)
        meta_opt.zero_grad()
        meta_loss.backward()
        meta_opt.step()
    return meta_loss


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.1), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    task_list = [
        ((torch.randn(5, 4), torch.randint(0, 3, (5,))), [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(2)])
        for _ in range(3)
    ]
    last = meta_train(net, opt, task_list)
    assert last.grad_fn is not None  # the query losses carry the graph the meta step needs
    assert all(p.grad is not None for p in net.parameters())
