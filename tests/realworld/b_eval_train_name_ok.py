# realworld: https://github.com/mapbox/robosat/pull/109
# family: B
"""The tagger's `validate()` again ends with `net.train()` next to a module-level `train()`
function, but this time validation is decorated with `@torch.no_grad()` (the fix of the report):
the forwards run grad-off and nothing in the function needs grad. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Tagger(nn.Module):
    def __init__(self, vocab=30, tags=5, dim=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.drop = nn.Dropout(0.2)
        self.proj = nn.Linear(dim, tags)

    def forward(self, tokens):
        return self.proj(self.drop(self.emb(tokens)))


def train(net, opt, batches):
    for tokens, tags in batches:
        opt.zero_grad()
        loss = F.cross_entropy(net(tokens).flatten(0, 1), tags.flatten())
        loss.backward()
        opt.step()


@torch.no_grad()
def validate(net, batches):
    net.eval()
    nll, tokens_seen = 0.0, 0
    for tokens, tags in batches:
        logits = net(tokens)
        nll += F.cross_entropy(logits.flatten(0, 1), tags.flatten(), reduction="sum").item()
        tokens_seen += tags.numel()
    net.train()
    return nll / tokens_seen


if __name__ == "__main__":
    tagger = Tagger()
    sgd = torch.optim.SGD(tagger.parameters(), lr=0.1)
    data = [(torch.randint(0, 30, (2, 7)), torch.randint(0, 5, (2, 7))) for _ in range(3)]
    graph_flags = []
    tagger.proj.register_forward_hook(
        lambda mod, inp, out: None if mod.training else graph_flags.append(out.requires_grad)
    )
    for _ in range(2):
        train(tagger, sgd, data)
        validate(tagger, data)
    assert graph_flags and not any(graph_flags)
