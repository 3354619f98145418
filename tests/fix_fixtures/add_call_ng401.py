import torch
import torch as T
from torch import inference_mode


def predict(model, x):
    with torch.no_grad:
        return model(x)


def predict_alias(model, x):
    with (T.inference_mode), open("log.txt") as log:  # parenthesised guard
        log.write("predicting")
        return model(x)


def predict_direct(model, x):
    with inference_mode:
        return model(x)


def predict_silenced(model, x):
    with torch.no_grad:  # noqa: NG401
        return model(x)


def predict_blanket(model, x):
    with torch.no_grad:  # noqa
        return model(x)


def freeze(model, x):
    with torch.set_grad_enabled:  # needs an argument: reported, not fixed
        return model(x)
