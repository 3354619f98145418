import torch


class Trainer:
    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer

    def training_loss(self, batch):
        raise NotImplementedError

    def fit(self, loader):
        self.model.train()
        for batch in loader:
            loss = self.training_loss(batch)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def run_eval(self, loader):
        raise NotImplementedError

    @torch.no_grad()
    def validate(self, loader):
        return self.run_eval(loader)
