# realworld: https://github.com/determined-ai/determined/issues/7043
# family: A
"""The subclass's evaluate_batch fits a linear probe on the encoder's features, but the project's base
Evaluator.run (engine/base.py) calls it under @torch.no_grad(): the probe's loss has no graph, and
backward() raises."""
import torch

from probe import ProbeEvaluator

if __name__ == "__main__":
    encoder = torch.nn.Linear(6, 4)
    data = [(torch.randn(8, 6), torch.randint(0, 3, (8,))) for _ in range(2)]
    print(ProbeEvaluator(encoder, classes=3).run(data))
