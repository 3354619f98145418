# realworld: https://github.com/rasbt/faster-pytorch-blog/issues/8
# family: B
"""The look-alike: the project's base Trainer.validate (engine/base.py) is decorated @torch.no_grad()
and calls the run_eval hook; the subclass in tasks.py overrides run_eval with an eval-mode loop
that runs the model, which therefore runs without grad."""
import torch

from tasks import ClassifierTrainer

if __name__ == "__main__":
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.2), torch.nn.Linear(4, 2))
    trainer = ClassifierTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1))
    data = [(torch.randn(5, 3), torch.randint(0, 2, (5,))) for _ in range(3)]
    trainer.fit(data)
    probabilities = trainer.validate(data)
    assert not probabilities.requires_grad
