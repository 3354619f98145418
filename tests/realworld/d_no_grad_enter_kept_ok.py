# realworld: https://github.com/pytorch/pytorch/issues/40158
# family: D
"""A retrieval benchmark script enters no_grad by hand twice, both correctly: a scoring helper
keeps the guard in a variable and pairs `guard.__enter__()` with `guard.__exit__(...)` in a
`finally`, and the script's main block calls `torch.no_grad().__enter__()` once for the rest of
the run. Unlike inference mode, no_grad's `__enter__` flips the thread's global grad flag, so both
really switch grad off: the query embeddings collected in the loop keep no graph. Correct.
"""
import torch
import torch.nn as nn


def recall_at_1(encoder, queries, documents):
    guard = torch.no_grad()
    guard.__enter__()
    try:
        sims = encoder(queries) @ encoder(documents).T
        return (sims.argmax(1) == torch.arange(len(queries))).float().mean()
    finally:
        guard.__exit__(None, None, None)


if __name__ == "__main__":
    encoder = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4))
    docs = torch.randn(3, 8)
    first = recall_at_1(encoder, docs + 0.1, docs)
    assert torch.is_grad_enabled() and first.grad_fn is None
    torch.no_grad().__enter__()
    embeddings, total = [], 0.0
    for queries in [docs + 0.1 * torch.randn(3, 8) for _ in range(3)]:
        embeddings.append(encoder(queries))
        total = total + recall_at_1(encoder, queries, docs)
    assert not torch.is_grad_enabled()
    assert all(e.grad_fn is None for e in embeddings) and not total.requires_grad
