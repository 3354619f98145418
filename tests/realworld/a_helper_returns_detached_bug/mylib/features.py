import torch.nn.functional as F


def normalise(z):
    return F.normalize(z, dim=-1)


def embed(encoder, x):
    """Unit-length embeddings, cut from the graph so they can be cached."""
    return normalise(encoder(x)).detach()
