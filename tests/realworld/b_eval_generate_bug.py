# realworld: https://github.com/allenai/OLMo/pull/164
# family: B
"""A character-level language model's own `generate()` method samples token by token by calling
`self(tok, h)` in a loop, with no `@torch.no_grad()` on it. Called after `lm.eval()`, it still
records a graph for every step, and the recurrent state `h` chains all of them, so memory grows
with the number of generated tokens. Library `generate()`s are decorated; this local one is not."""
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, vocab=12, hidden=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)
        self.cell = nn.GRUCell(hidden, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tok, h):
        h = self.cell(self.emb(tok), h)
        return self.head(h), h

    def generate(self, start, steps, temperature=1.0):
        h = torch.zeros(start.shape[0], self.cell.hidden_size)
        tok, tokens = start, [start]
        for _ in range(steps):  # finding: NG201
            logits, h = self(tok, h)
            tok = torch.multinomial((logits / temperature).softmax(-1), 1).squeeze(1)
            tokens.append(tok)
        return torch.stack(tokens, 1), h


if __name__ == "__main__":
    lm = CharRNN()
    lm.eval()
    graph_flags = []
    lm.head.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    text, state = lm.generate(torch.zeros(2, dtype=torch.long), steps=5)
    assert graph_flags and all(graph_flags)  # runtime-check: every sampling step records a graph
    assert state.grad_fn is not None  # runtime-check: the recurrent state chains every step's graph
