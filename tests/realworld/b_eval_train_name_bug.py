# realworld: https://github.com/OpenNMT/OpenNMT-py/issues/1141
# family: B
"""A tagger's `validate()` puts the network in eval(), scores the validation set with grad on, and
switches it back with `net.train()` before returning. That last call is nn.Module.train(), not the
module's own `train()` function below, which back-propagates: nothing after the loop needs grad,
so every validation batch records a graph that is never used."""
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


def validate(net, batches):
    net.eval()
    stats = {"nll": 0.0, "hits": 0, "tokens": 0}
    for tokens, tags in batches:  # finding: NG201
        logits = net(tokens)
        stats["nll"] += F.cross_entropy(logits.flatten(0, 1), tags.flatten(), reduction="sum").item()
        stats["hits"] += (logits.argmax(-1) == tags).sum().item()
        stats["tokens"] += tags.numel()
    net.train()
    return stats["nll"] / stats["tokens"], stats["hits"] / stats["tokens"]


def run(net, opt, train_batches, valid_batches, epochs):
    curve = []
    for _ in range(epochs):
        train(net, opt, train_batches)
        curve.append(validate(net, valid_batches))
    return curve


if __name__ == "__main__":
    tagger = Tagger()
    sgd = torch.optim.SGD(tagger.parameters(), lr=0.1)
    data = [(torch.randint(0, 30, (2, 7)), torch.randint(0, 5, (2, 7))) for _ in range(3)]
    graph_flags = []
    tagger.proj.register_forward_hook(
        lambda mod, inp, out: None if mod.training else graph_flags.append(out.requires_grad)
    )
    history = run(tagger, sgd, data, data, epochs=2)
    assert graph_flags and all(graph_flags)  # runtime-check: the validation forwards (eval mode) record graphs
