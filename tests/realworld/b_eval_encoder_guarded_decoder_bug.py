# realworld: https://github.com/sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning/issues/57
# family: B
"""A captioning `validate()` puts the encoder and the decoder in eval mode and wraps the encoder's
forward in `torch.no_grad()`, but the decoder runs after the block, with grad on. The image
features carry no graph, yet the decoder's own weights make every step record one, so the
validation pass holds a graph per batch until its scores are read out. The guard covers the wrong
part: the whole loop wanted it."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, dim=12):
        super().__init__()
        self.conv = nn.Conv2d(3, dim, 3, padding=1)

    def forward(self, images):
        return F.adaptive_avg_pool2d(F.relu(self.conv(images)), 1).flatten(1)


class Decoder(nn.Module):
    def __init__(self, dim=12, vocab=20):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.cell = nn.GRUCell(dim, dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, feats, captions):
        h = feats
        scores = []
        for t in range(captions.shape[1]):
            h = self.cell(self.embed(captions[:, t]), h)
            scores.append(self.out(h))
        return torch.stack(scores, 1)


def validate(encoder, decoder, val_loader):
    encoder.eval()
    decoder.eval()
    total, tokens = 0.0, 0
    for images, captions in val_loader:  # finding: NG201
        with torch.no_grad():
            feats = encoder(images)
        scores = decoder(feats, captions[:, :-1])
        targets = captions[:, 1:]
        total += F.cross_entropy(scores.flatten(0, 1), targets.flatten(), reduction="sum").item()
        tokens += targets.numel()
    return total / tokens


if __name__ == "__main__":
    enc, dec = Encoder(), Decoder()
    graph_flags = []
    dec.out.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    batches = [(torch.randn(2, 3, 8, 8), torch.randint(0, 20, (2, 5))) for _ in range(2)]
    per_token = validate(enc, dec, batches)
    assert graph_flags and all(graph_flags)  # runtime-check: the decoder after the guard records a graph every step
