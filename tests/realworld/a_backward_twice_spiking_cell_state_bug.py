# realworld: https://github.com/norse/norse/pull/131
# family: A
"""A recurrent cell's state is fed back from one training step to the next. The pull request tried
to detach it inside the cell and was turned down: reusing a graph that a backward freed is the
caller's mistake, and the training loop has to cut (or re-initialise) the state itself. Here it
does neither."""
import torch
import torch.nn as nn


class Readout(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.RNNCell(4, 6, nonlinearity="relu")
        self.decode = nn.Linear(6, 2)

    def train_online(self, stream, labels):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.05)
        state = torch.zeros(1, 6)
        for sample, label in zip(stream, labels):
            state = self.cell(sample, state)  # finding: NG105
            loss = nn.functional.cross_entropy(self.decode(state), label)
            optimizer.zero_grad()
            loss.backward()  # raises: Trying to backward through the graph a second time
            optimizer.step()


if __name__ == "__main__":
    readout = Readout()
    readout.train_online([torch.randn(1, 4) for _ in range(3)], [torch.tensor([i % 2]) for i in range(3)])
