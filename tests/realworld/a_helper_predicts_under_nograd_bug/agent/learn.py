import torch.nn.functional as F

from .inference import action_logits


def update(policy, observations, actions, advantages, optimizer):
    log_probs = F.log_softmax(action_logits(policy, observations), dim=-1)
    chosen = log_probs.gather(1, actions[:, None]).squeeze(1)
    loss = -(chosen * advantages).mean()
    optimizer.zero_grad()
    loss.backward()  # finding: NG101  # raises: does not require grad
    optimizer.step()
