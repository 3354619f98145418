# realworld: https://github.com/sgadgil6/cnslab_fmri/issues/4
# family: A
"""The fix proposed in the thread: the scans in different batches are independent, so each batch
starts from a fresh zero state instead of the last batch's. Nothing links one backward to the
previous batch's graph."""
import torch
import torch.nn as nn


class ScanLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 5, batch_first=True)
        self.linear = nn.Linear(5, 1)

    def forward(self, x, hidden):
        out, hidden = self.lstm(x, hidden)
        return torch.sigmoid(self.linear(out[:, -1])), hidden


def train(model, batches):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for scans, labels in batches:
        hidden = (torch.zeros(1, scans.size(0), 5), torch.zeros(1, scans.size(0), 5))
        prediction, hidden = model(scans, hidden)
        loss = nn.functional.binary_cross_entropy(prediction.squeeze(1), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    train(ScanLSTM(), [(torch.randn(4, 7, 6), torch.randint(0, 2, (4,)).float()) for _ in range(3)])
