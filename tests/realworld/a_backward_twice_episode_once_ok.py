# realworld: https://github.com/IC3Net/IC3Net/issues/7
# family: A
"""An agent's LSTM state is carried through every step of an episode, but the policy loss is
summed over the episode and back-propagated once at its end, with a fresh state per episode: the
one backward walks the episode's graph a single time. (Detaching every few steps, as the thread
discusses, only shortens how far back it goes.)"""
import torch
import torch.nn as nn


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 8)
        self.policy = nn.Linear(8, 2)

    def run_episodes(self, episodes):
        optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
        for observations in episodes:
            prev_hid = (torch.zeros(1, 8), torch.zeros(1, 8))
            episode_loss = 0
            for obs in observations:
                prev_hid = self.cell(obs, prev_hid)
                episode_loss = episode_loss - self.policy(prev_hid[0]).log_softmax(-1)[0, 0]
            optimizer.zero_grad()
            episode_loss.backward()
            optimizer.step()


if __name__ == "__main__":
    Agent().run_episodes([[torch.randn(1, 4) for _ in range(4)] for _ in range(2)])
