# realworld: https://github.com/RoboVerseOrg/RoboVerse/pull/783
# family: A
"""Correct code with a name clash: the agent has its own `update()` that back-propagates the policy
loss, and inside `act()`, under `torch.no_grad()`, it calls `self.obs_stats.update(obs)`, the
running-statistics object's method of the same name. Only the statistics update runs grad-off; the
agent's `update()` is called from the training loop with grad on, so its `backward()` works."""
import torch
import torch.nn as nn


class RunningMeanStd:
    def __init__(self, dim):
        self.mean, self.var, self.count = torch.zeros(dim), torch.ones(dim), 1e-4

    def update(self, x):
        batch_mean, n = x.mean(0), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + x.var(0, unbiased=False) * n) / total
        self.count = total

    def normalize(self, x):
        return (x - self.mean) / (self.var.sqrt() + 1e-8)


class Agent:
    def __init__(self, obs_dim, n_actions):
        self.policy = nn.Linear(obs_dim, n_actions)
        self.obs_stats = RunningMeanStd(obs_dim)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=1e-3)

    def act(self, obs):
        with torch.no_grad():
            self.obs_stats.update(obs)
            return self.policy(self.obs_stats.normalize(obs)).argmax(-1)

    def update(self, obs, actions, returns):
        logp = self.policy(self.obs_stats.normalize(obs)).log_softmax(-1)
        loss = -(logp.gather(1, actions[:, None]).squeeze(1) * returns).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


if __name__ == "__main__":
    agent = Agent(4, 2)
    obs = torch.randn(6, 4)
    actions = agent.act(obs)
    agent.update(obs, actions, torch.randn(6))
    assert agent.policy.weight.grad is not None
