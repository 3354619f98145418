# realworld: https://github.com/fastai/fastbook/pull/471
# family: C
"""After building the network, the script damps the output layer with modelutils.utils.scale_weights,
which multiplies the weight in place; grad is on at the call, so the in-place update of a leaf
Parameter raises."""
import torch

from modelutils import utils
from net import Classifier


def build_model():
    model = Classifier()
    utils.scale_weights(model.head, 0.5)  # finding: NG301
    return model


if __name__ == "__main__":
    model = build_model()
    print(model(torch.randn(2, 6)).shape)
