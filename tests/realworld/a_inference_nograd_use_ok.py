# realworld: https://github.com/pytorch/pytorch/pull/54403
# family: A
"""A retrieval model indexes its gallery with an `@torch.inference_mode()` method and keeps the
normalised embeddings on `self`. Those are inference tensors, but they are only ever read by
`search()`, which runs under `torch.no_grad()`: out-of-place ops on inference tensors outside
inference mode are allowed as long as autograd records nothing. The query encoder is trained on
in-batch pairs that never touch the gallery. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Retriever(nn.Module):
    def __init__(self, dim_in=6, dim=4):
        super().__init__()
        self.encoder = nn.Linear(dim_in, dim)
        self.gallery = None

    def embed(self, x):
        return F.normalize(self.encoder(x), dim=-1)

    @torch.inference_mode()
    def build_index(self, items):
        self.gallery = self.embed(items)

    def search(self, queries, k=2):
        with torch.no_grad():
            scores = self.embed(queries) @ self.gallery.T
            return scores.topk(k, dim=-1).indices


def contrastive_step(model, anchors, positives, opt, tau=0.1):
    logits = model.embed(anchors) @ model.embed(positives).T / tau
    loss = F.cross_entropy(logits, torch.arange(len(anchors)))
    opt.zero_grad()
    loss.backward()
    opt.step()


if __name__ == "__main__":
    model = Retriever()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.build_index(torch.randn(10, 6))
    for _ in range(2):
        a = torch.randn(5, 6)
        contrastive_step(model, a, a + 0.05 * torch.randn(5, 6), opt)
        hits = model.search(torch.randn(3, 6))
    assert model.gallery.is_inference() and hits.shape == (3, 2)
