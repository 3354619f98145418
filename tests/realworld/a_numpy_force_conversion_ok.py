# realworld: https://github.com/pytorch/pytorch/pull/139880
# family: A
"""The pull request's discussion: converting a tensor that requires grad needs an explicit
`.detach()` first, or `numpy(force=True)`, which detaches (and copies off the device) by itself.
A training script that logs its predictions both ways runs clean."""
import numpy as np
import torch
import torch.nn as nn

model = nn.Linear(4, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
x, y = torch.randn(12, 4), torch.randn(12, 1)
logged = []
for step in range(3):
    prediction = model(x)
    loss = nn.functional.mse_loss(prediction, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    logged.append(prediction.numpy(force=True))
    logged.append(prediction.detach().cpu().numpy())
print(np.stack(logged).shape)
