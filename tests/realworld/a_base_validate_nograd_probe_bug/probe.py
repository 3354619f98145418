import torch
import torch.nn.functional as F

from engine.base import Evaluator


class ProbeEvaluator(Evaluator):
    def __init__(self, model, classes):
        super().__init__(model)
        self.classes = classes

    def evaluate_batch(self, batch):
        inputs, labels = batch
        features = self.model(inputs)
        probe = torch.nn.Linear(features.shape[-1], self.classes)
        optimizer = torch.optim.SGD(probe.parameters(), lr=0.5)
        for _ in range(3):
            loss = F.cross_entropy(probe(features), labels)
            optimizer.zero_grad()
            loss.backward()  # finding: NG101  # raises: does not require grad
            optimizer.step()
        return (probe(features).argmax(-1) == labels).float().mean().item()
