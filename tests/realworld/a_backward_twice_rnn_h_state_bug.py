# realworld: https://github.com/MorvanZhou/PyTorch-Tutorial/issues/57
# family: A
"""An RNN learns to map a sine wave to a cosine, one window per step, and hands its last hidden
state to the next window so the sequence continues. The line that cut the state from its history
(`h_state = h_state.data`) was removed: the second window's backward reaches into the first
window's graph, which the first backward already freed."""
import math

import torch
import torch.nn as nn


class WaveRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(input_size=1, hidden_size=8, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x, h_state):
        r_out, h_state = self.rnn(x, h_state)
        return self.out(r_out), h_state


def fit(model, windows):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    h_state = None
    for start in windows:
        steps = torch.linspace(start, start + math.pi, 10)
        x = torch.sin(steps).view(1, 10, 1)
        y = torch.cos(steps).view(1, 10, 1)
        prediction, h_state = model(x, h_state)  # finding: NG105
        loss = nn.functional.mse_loss(prediction, y)
        optimizer.zero_grad()
        loss.backward()  # raises: Trying to backward through the graph a second time
        optimizer.step()


if __name__ == "__main__":
    fit(WaveRNN(), [0.0, math.pi, 2 * math.pi])
