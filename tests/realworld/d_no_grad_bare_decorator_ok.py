# realworld: https://github.com/huggingface/transformers/pull/42573
# family: D
"""A continuous-batching generator decorates its decoding method with a bare `@torch.no_grad`,
without parentheses. Since torch 2.1 the grad-mode classes accept the function directly and wrap
it, so it behaves exactly like `@torch.no_grad()`: the greedy loop below runs grad-off, and the
tokens and summed log-probabilities it collects keep no graph. Correct.
"""
import torch
import torch.nn as nn


class TinyDecoder(nn.Module):
    def __init__(self, vocab=12, dim=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids):
        return self.head(self.embed(ids).mean(1))


class Generator:
    def __init__(self, model):
        self.model = model

    @torch.no_grad
    def generate(self, ids, steps=4):
        logprob = 0.0
        for _ in range(steps):
            logp = self.model(ids).log_softmax(-1)
            nxt = logp.argmax(-1, keepdim=True)
            logprob = logprob + logp.gather(-1, nxt)
            ids = torch.cat([ids, nxt], dim=1)
        return ids, logprob


if __name__ == "__main__":
    ids, logprob = Generator(TinyDecoder()).generate(torch.zeros(2, 1, dtype=torch.long))
    assert torch.is_grad_enabled() and logprob.grad_fn is None and ids.shape == (2, 5)
