# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/19517
# family: A
"""The policy-gradient loss reuses agent.inference.action_logits, which is decorated @torch.no_grad()
for acting in the environment; its logits have no graph, so the loss built on them cannot be
back-propagated."""
import torch

from agent.learn import update

if __name__ == "__main__":
    policy = torch.nn.Linear(4, 2)
    update(policy, torch.randn(5, 4), torch.randint(0, 2, (5,)), torch.randn(5),
           torch.optim.SGD(policy.parameters(), lr=0.01))
