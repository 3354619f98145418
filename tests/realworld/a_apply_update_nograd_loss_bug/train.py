import torch
import torch.nn.functional as F

import trainlib.helpers as h


def fit(model, batches, optimizer):
    for inputs, labels in batches:
        with torch.no_grad():  # meant for the accuracy, but the loss is computed in here too
            logits = model(inputs)
            loss = F.cross_entropy(logits, labels)
            accuracy = (logits.argmax(-1) == labels).float().mean()
        h.apply_update(loss, optimizer)  # finding: NG101
        print(f"loss {loss.item():.3f}  accuracy {accuracy.item():.2f}")
