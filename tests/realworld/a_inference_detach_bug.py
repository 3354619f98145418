# realworld: https://github.com/unslothai/unsloth/issues/2434
# family: A
"""A policy-gradient trainer collects rollouts under `torch.inference_mode()` for speed, then
re-runs the policy on the stored observations to get log-probabilities with a graph. The author
calls `.detach()` on the stored observations and actions to "cut them loose from the rollout",
but `.detach()` of an inference tensor is still an inference tensor: the policy's Linear saves the
observations for the weight gradient and raises "Inference tensors cannot be saved for
backward"; the actions, used as the gather index of `log_prob`, would raise next."""
import torch
import torch.nn as nn
from torch.distributions import Categorical


def collect(policy, obs, steps):
    observations, actions, rewards = [], [], []
    with torch.inference_mode():
        for _ in range(steps):
            action = Categorical(logits=policy(obs)).sample()
            observations.append(obs)
            actions.append(action)
            rewards.append((action == 0).float())
            obs = torch.tanh(obs + 0.1 * action[:, None].float())
        return torch.stack(observations), torch.stack(actions), torch.stack(rewards)


def update(policy, opt, observations, actions, rewards):
    obs, acts = observations.detach(), actions.detach()
    returns = rewards.flip(0).cumsum(0).flip(0)
    logits = policy(obs)  # finding: NG103  # raises: Inference tensors cannot be saved for backward
    logp = Categorical(logits=logits).log_prob(acts)  # finding: NG103
    loss = -(logp * (returns - returns.mean())).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


if __name__ == "__main__":
    pi = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    optim = torch.optim.Adam(pi.parameters(), lr=1e-2)
    rollout = collect(pi, torch.randn(4, 3), steps=5)
    update(pi, optim, *rollout)
