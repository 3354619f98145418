# realworld: https://github.com/pytorch/pytorch/issues/37000
# family: A
"""The thread pins down when `numpy()` raises: on a tensor whose `requires_grad` is set. A model's
output computed under `torch.no_grad()` has no graph and does not require grad, so a validation
pass that converts its predictions to NumPy runs clean even though the model's weights require
grad."""
import numpy as np
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
inputs = torch.randn(16, 3)
labels = torch.randint(0, 2, (16,))

with torch.no_grad():
    logits = model(inputs)
probabilities = logits.softmax(dim=1).numpy()
predicted = np.asarray(logits).argmax(axis=1)
accuracy = (predicted == labels.numpy()).mean()
assert not logits.requires_grad
print(probabilities.shape, float(accuracy))
