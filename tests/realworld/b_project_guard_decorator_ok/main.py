# realworld: https://github.com/mapbox/robosat/pull/109
# family: B
"""The look-alike: the project's own guard, torch_utils.evaluation_mode (a decorator that runs the
function inside torch.no_grad(), its name saying neither), decorates the evaluation loop in
evaluation.py; the loop runs without grad."""
import torch

from evaluation import evaluate

if __name__ == "__main__":
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    data = [(torch.randn(5, 3), torch.randint(0, 2, (5,))) for _ in range(3)]
    scores, accuracy = evaluate(model, data)
    assert not scores.requires_grad and torch.is_grad_enabled()
