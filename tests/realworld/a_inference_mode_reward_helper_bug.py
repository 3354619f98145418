# realworld: https://github.com/replicate/cog/issues/1681
# family: A
"""`score()` wraps a frozen reward model and is decorated `@torch.inference_mode()` because it was
written for offline evaluation. Reused as the objective of reward fine-tuning, it returns a reward
computed in inference mode: no graph back to the generator, so `loss.backward()` raises. The
result of an `@inference_mode` function is graph-less wherever it is used."""
import torch
import torch.nn as nn


@torch.inference_mode()
def score(reward_model, samples):
    return reward_model(samples).squeeze(-1).sigmoid()


def report(reward_model, generator, z):
    return score(reward_model, generator(z)).mean().item()


def finetune_step(generator, reward_model, z, opt):
    samples = generator(z)
    reward = score(reward_model, samples)
    loss = -reward.mean()
    opt.zero_grad()
    loss.backward()  # finding: NG101  # raises: does not require grad
    opt.step()
    return loss.item()


if __name__ == "__main__":
    gen = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6))
    rm = nn.Linear(6, 1).requires_grad_(False)
    print(report(rm, gen, torch.randn(3, 4)))
    finetune_step(gen, rm, torch.randn(3, 4), torch.optim.SGD(gen.parameters(), lr=0.1))
