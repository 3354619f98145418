import torch.nn.functional as F

from common.torch_utils import frozen


@frozen()
def reconstruction_loss(autoencoder, batch):
    return F.mse_loss(autoencoder(batch), batch)
