import torch
import torch.nn.functional as F

from engine import Trainer


class ClassifierTrainer(Trainer):
    def training_loss(self, batch):
        inputs, labels = batch
        return F.cross_entropy(self.model(inputs), labels)

    def run_eval(self, loader):
        self.model.eval()
        probabilities = []
        for inputs, _ in loader:
            probabilities.append(self.model(inputs).softmax(-1))
        self.model.train()
        return torch.cat(probabilities)
