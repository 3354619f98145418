import torch


@torch.no_grad()
def action_logits(policy, observations):
    """Logits for acting: no graph is needed to pick an action."""
    return policy(observations)


def sample_actions(policy, observations):
    return torch.distributions.Categorical(logits=action_logits(policy, observations)).sample()
