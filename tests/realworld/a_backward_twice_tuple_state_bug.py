# realworld: https://github.com/dpressel/dliss-tutorial/issues/1
# family: A
"""A contextual-embedding tutorial initialises each batch from the previous batch's LSTM state,
and says it detaches the state at every step. The version here unpacks `(h, c)` straight back into
the next call instead, so the next backward walks into the previous batch's freed graph."""
import torch
import torch.nn as nn


class ContextEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, batch_first=True)
        self.proj = nn.Linear(7, 5)

    def pretrain(self, batches):
        optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
        h = torch.zeros(1, 2, 7)
        c = torch.zeros(1, 2, 7)
        for x, y in batches:
            out, (h, c) = self.lstm(x, (h, c))  # finding: NG105
            loss = nn.functional.mse_loss(self.proj(out), y)
            optimizer.zero_grad()
            loss.backward()  # raises: Trying to backward through the graph a second time
            optimizer.step()


if __name__ == "__main__":
    encoder = ContextEncoder()
    encoder.pretrain([(torch.randn(2, 4, 5), torch.randn(2, 4, 5)) for _ in range(3)])
