# realworld: https://github.com/dasguptar/treelstm.pytorch/pull/26
# family: C
"""A tree-LSTM sentiment model loads pretrained word vectors into its embedding in `__init__`
through a static helper, `self._load_(self.emb.weight, vectors)`, which copies them in with
`copy_`. The helper's argument is the embedding's weight Parameter and grad is on while the model
is built, so the copy raises "a leaf Variable that requires grad is being used in an in-place
operation". The call decides the grad mode, so the finding is at the call.
"""
import torch
import torch.nn as nn


class TreeSentiment(nn.Module):
    def __init__(self, vectors, hidden=6, classes=3):
        super().__init__()
        self.emb = nn.Embedding(*vectors.shape)
        self._load_(self.emb.weight, vectors)  # finding: NG301
        self.cell = nn.LSTMCell(vectors.shape[1], hidden)
        self.out = nn.Linear(hidden, classes)

    @staticmethod
    def _load_(table, vectors):
        table.copy_(vectors)  # raises: leaf Variable that requires grad is being used in an in-place operation

    def forward(self, tokens):
        h, _ = self.cell(self.emb(tokens).mean(0, keepdim=True))
        return self.out(h)


if __name__ == "__main__":
    model = TreeSentiment(torch.randn(20, 5))
    print(model(torch.tensor([1, 4, 7])).shape)
