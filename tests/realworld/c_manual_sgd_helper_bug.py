# realworld: https://github.com/pytorch/examples/pull/779
# family: C
"""A word-language-model training script steps its parameters by hand through a helper,
`sgd_(params, lr)`, that does `p.add_(p.grad, alpha=-lr)` for each tensor it is given. The
training loop calls it with `model.parameters()` and grad on, so the first step raises "a leaf
Variable that requires grad is being used in an in-place operation" inside the helper; the
finding is at the call, which decides the grad mode.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def sgd_(params, lr):
    for p in params:
        if p.grad is not None:
            p.add_(p.grad, alpha=-lr)  # raises: leaf Variable that requires grad is being used in an in-place operation


class TinyLM(nn.Module):
    def __init__(self, vocab=12, dim=6):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, vocab)

    def forward(self, tokens):
        hidden, _ = self.rnn(self.emb(tokens))
        return self.out(hidden)


def train_epoch(model, batches, lr=1.0):
    for tokens in batches:
        model.zero_grad()
        logits = model(tokens[:, :-1])
        F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        sgd_(model.parameters(), lr)  # finding: NG301


if __name__ == "__main__":
    train_epoch(TinyLM(), [torch.randint(0, 12, (2, 5)) for _ in range(2)])
