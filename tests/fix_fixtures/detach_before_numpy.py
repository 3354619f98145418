import numpy as np
import torch
from torch import nn

model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
grid = torch.linspace(-1, 1, 9).reshape(-1, 1).repeat(1, 2)
surface = torch.sigmoid(model(grid))
a = surface.numpy()
b = surface.cpu().numpy()
c = np.asarray(surface * 2)
d = np.array(surface)
e = (surface + 1).to("cpu").numpy()  # a comment stays
w = model[0].weight.numpy()
