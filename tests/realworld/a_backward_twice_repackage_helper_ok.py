# realworld: https://github.com/quark0/darts/issues/56
# family: A
"""The thread's answer: back-propagating an RNN cell all the way back through time fails unless
`repackage_hidden` really detaches the hidden state (a tensor is detached, a tuple is repackaged
part by part). With that helper at the top of each step, every backward stays in its own batch."""
import torch
import torch.nn as nn


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class SearchRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6)
        self.decoder = nn.Linear(6, 4)

    def forward(self, x, hidden):
        out, hidden = self.lstm(x, hidden)
        return self.decoder(out), hidden


def train(model, batches):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    hidden = (torch.zeros(1, 3, 6), torch.zeros(1, 3, 6))
    for x, y in batches:
        hidden = repackage_hidden(hidden)
        out, hidden = model(x, hidden)
        loss = nn.functional.mse_loss(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return hidden


if __name__ == "__main__":
    final = train(SearchRNN(), [(torch.randn(5, 3, 4), torch.randn(5, 3, 4)) for _ in range(3)])
    assert final[0].grad_fn is not None  # the state keeps this batch's graph, and only this one's
