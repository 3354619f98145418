# realworld: https://github.com/EmbarkStudios/emote/pull/122
# family: B
"""Tuple-returning model and criterion, logged correctly: `logits, attn = model(x)` feeds the loss,
and only `attn[0].detach().cpu()` is kept for the attention plots; the criterion returns
`(loss, parts)` where `parts` was built from `.item()` numbers, and the loop keeps those. Nothing
kept refers to the step's graph, so each graph is freed after its backward."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class PoolingClassifier(nn.Module):
    def __init__(self, dim=6, classes=3):
        super().__init__()
        self.score = nn.Linear(dim, 1)
        self.out = nn.Linear(dim, classes)

    def forward(self, x):
        attn = self.score(x).squeeze(-1).softmax(-1)
        return self.out((attn.unsqueeze(-1) * x).sum(1)), attn


def criterion(logits, attn, target, ent_weight=0.01):
    ce = F.cross_entropy(logits, target)
    entropy = -(attn * attn.clamp(min=1e-8).log()).sum(-1).mean()
    return ce + ent_weight * entropy, {"ce": ce.item(), "entropy": entropy.item()}


def train_epoch(model, loader, optimizer):
    attn_maps, logs = [], []
    for x, y in loader:
        logits, attn = model(x)
        loss, parts = criterion(logits, attn, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        attn_maps.append(attn[0].detach().cpu())
        logs.append(parts)
    return attn_maps, logs


if __name__ == "__main__":
    net = PoolingClassifier()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    data = [(torch.randn(2, 5, 6), torch.randint(0, 3, (2,))) for _ in range(3)]
    maps, logs = train_epoch(net, data, opt)
    assert all(m.grad_fn is None for m in maps)
    assert all(isinstance(v, float) for p in logs for v in p.values())
