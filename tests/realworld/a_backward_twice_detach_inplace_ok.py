# realworld: https://github.com/vikrant7/mobile-vod-bottleneck-lstm/issues/6
# family: A
"""A video detector's recurrent bottleneck carries its hidden and cell state from one clip to the
next and, after each clip's backward, detaches both in place with `detach_()`: the next clip keeps
the values but starts a new graph."""
import torch
import torch.nn as nn


class Bottleneck(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(6, 6)
        self.head = nn.Linear(6, 3)

    def train_clips(self, clips, targets):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.05)
        h, c = torch.zeros(1, 6), torch.zeros(1, 6)
        for frames, target in zip(clips, targets):
            h, c = self.cell(frames, (h, c))
            loss = nn.functional.mse_loss(self.head(h), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            h.detach_()
            c.detach_()
        return h


if __name__ == "__main__":
    last = Bottleneck().train_clips([torch.randn(1, 6) for _ in range(3)], [torch.randn(1, 3) for _ in range(3)])
    assert last.grad_fn is None
