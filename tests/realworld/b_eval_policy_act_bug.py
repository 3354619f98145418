# realworld: https://github.com/kc-ml2/SimpleDreamer/issues/7
# family: B
"""An agent evaluation: the caller puts the policy in eval() and the episode runner steps the
environment with `policy.act(obs)`, the policy's own acting method, with grad on. Nothing
back-propagates (actions go to the environment as plain floats), yet every step records a graph
through the policy network, so long or unbounded episodes run out of memory. Neither the eval()
switch (it is in the caller) nor the forward (a method other than `policy(obs)`) is in the loop's
own function."""
import torch
import torch.nn as nn


class GaussianPolicy(nn.Module):
    def __init__(self, obs_dim=6, act_dim=2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, 32), nn.Tanh())
        self.mu = nn.Linear(32, act_dim)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def act(self, obs, deterministic=False):
        mean = self.mu(self.body(obs))
        if deterministic:
            return torch.tanh(mean)
        return torch.tanh(mean + self.log_std.exp() * torch.randn_like(mean))


class PointMass:
    def reset(self):
        self.state = torch.randn(6)
        return self.state

    def step(self, action):
        push = torch.tensor(action).repeat(3)
        self.state = 0.9 * self.state + 0.1 * push
        return self.state, -self.state.pow(2).sum().item()


def run_episode(policy, env, horizon):
    obs = env.reset()
    episode_return = 0.0
    for _ in range(horizon):  # finding: NG201
        action = policy.act(obs.unsqueeze(0), deterministic=True)
        obs, reward = env.step(action.squeeze(0).tolist())
        episode_return += reward
    return episode_return


def evaluate_agent(policy, env, episodes=3, horizon=5):
    policy.eval()
    returns = [run_episode(policy, env, horizon) for _ in range(episodes)]
    policy.train()
    return sum(returns) / len(returns)


if __name__ == "__main__":
    pi = GaussianPolicy()
    graph_flags = []
    pi.mu.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    score = evaluate_agent(pi, PointMass())
    assert graph_flags and all(graph_flags)  # runtime-check: every policy.act() step records a graph
