# realworld: https://github.com/facebookresearch/sam3/pull/593
# family: B
"""A notebook-style embedding export script turns autograd off for the whole session by entering
a no-grad guard by hand, `torch.no_grad().__enter__()`, before looping over the corpus. Unlike
`inference_mode().__enter__()` on a temporary, no_grad's `__enter__` sets the thread's global grad
flag and nothing resets it, so every forward in the loop runs grad-off and the stored embeddings
keep no graph. Correct."""
import torch
import torch.nn as nn


class MeanPoolEncoder(nn.Module):
    def __init__(self, vocab=50, dim=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, tokens):
        return nn.functional.normalize(self.proj(self.emb(tokens).mean(1)), dim=-1)


if __name__ == "__main__":
    encoder = MeanPoolEncoder()
    encoder.eval()
    torch.no_grad().__enter__()
    corpus = [torch.randint(0, 50, (4, 9)) for _ in range(3)]
    index = []
    for chunk in corpus:
        index.append(encoder(chunk))
    table = torch.cat(index)
    assert not torch.is_grad_enabled()
    assert table.shape == (12, 8) and not any(e.requires_grad for e in index)
