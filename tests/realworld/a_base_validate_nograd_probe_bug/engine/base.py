import torch


class Evaluator:
    def __init__(self, model):
        self.model = model

    def evaluate_batch(self, batch):
        raise NotImplementedError

    @torch.no_grad()
    def run(self, loader):
        self.model.eval()
        results = [self.evaluate_batch(batch) for batch in loader]
        self.model.train()
        return sum(results) / len(results)
