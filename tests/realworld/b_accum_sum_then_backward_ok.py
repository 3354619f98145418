# realworld: https://discuss.pytorch.org/t/gpu-memory-increase-while-i-wanna-to-backward-with-accumulative-loss/43284
# family: B
"""Sequences of different lengths in one batch are scored one by one, and their losses are summed
with `batch_loss = batch_loss + loss`; the sum is back-propagated once after the inner loop and
reset for the next batch. Keeping each sequence's graph until that backward is the point (the
gradient needs all of them), and the backward frees them, so nothing outlives the batch; the epoch
log takes `.item()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Tagger(nn.Module):
    def __init__(self, vocab=12, tags=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, 8)
        self.rnn = nn.GRU(8, 8, batch_first=True)
        self.out = nn.Linear(8, tags)

    def forward(self, tokens):
        h, _ = self.rnn(self.emb(tokens[None]))
        return self.out(h[0])


def train_epoch(model, batches, optimizer):
    epoch_log = []
    for batch in batches:
        batch_loss = 0.0
        for tokens, tags in batch:
            loss = F.cross_entropy(model(tokens), tags)
            batch_loss = batch_loss + loss
        batch_loss = batch_loss / len(batch)
        optimizer.zero_grad()
        batch_loss.backward()
        optimizer.step()
        epoch_log.append(batch_loss.item())
    return epoch_log


if __name__ == "__main__":
    net = Tagger()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = [[(torch.randint(0, 12, (n,)), torch.randint(0, 4, (n,))) for n in (3, 5, 2)] for _ in range(2)]
    log = train_epoch(net, data, opt)
    assert all(isinstance(v, float) for v in log)
    assert all(p.grad is not None for p in net.parameters())
