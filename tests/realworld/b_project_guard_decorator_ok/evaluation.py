import torch

from torch_utils import evaluation_mode


@evaluation_mode
def evaluate(model, loader):
    model.eval()
    scores, hits = [], 0
    for inputs, labels in loader:
        logits = model(inputs)
        scores.append(logits.softmax(-1))
        hits += (logits.argmax(-1) == labels).sum().item()
    return torch.cat(scores), hits / sum(len(labels) for _, labels in loader)
