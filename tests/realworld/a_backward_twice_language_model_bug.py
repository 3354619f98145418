# realworld: https://github.com/LiyuanLucasLiu/LD-Net/issues/6
# family: A
"""A word-level language model walks a long corpus in consecutive chunks and carries the LSTM's
(h, c) from chunk to chunk, as the maintainer explains; without the `repackage_hidden` step the
second chunk's backward runs into the first chunk's freed graph."""
import torch
import torch.nn as nn


class WordLM(nn.Module):
    def __init__(self, vocab, width):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width)
        self.decoder = nn.Linear(width, vocab)

    def forward(self, tokens, hidden):
        output, hidden = self.lstm(self.embed(tokens), hidden)
        return self.decoder(output), hidden

    def init_hidden(self, batch):
        return (torch.zeros(1, batch, 12), torch.zeros(1, batch, 12))


def train(model, corpus, bptt):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    hidden = model.init_hidden(corpus.size(1))
    for i in range(0, corpus.size(0) - 1, bptt):
        source, target = corpus[i : i + bptt], corpus[i + 1 : i + 1 + bptt]
        source = source[: target.size(0)]
        logits, hidden = model(source, hidden)  # finding: NG105
        loss = nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()  # raises: Trying to backward through the graph a second time
        optimizer.step()


if __name__ == "__main__":
    train(WordLM(30, 12), torch.randint(0, 30, (21, 3)), bptt=5)
