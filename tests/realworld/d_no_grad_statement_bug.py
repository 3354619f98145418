# realworld: https://github.com/kuprel/min-dalle/pull/24
# family: D
"""An image-token decoder helper meant to run without autograd calls `torch.no_grad()` on a line
of its own before the forward pass. That only builds a context-manager object and drops it: grad
mode never changes, so the decoded tensor still carries the decoder's graph (and its memory). The
driver shows it: the result requires grad and has a `grad_fn`.
"""
import torch
import torch.nn as nn


class TokenDecoder(nn.Module):
    def __init__(self, vocab=16, dim=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.to_pixels = nn.Sequential(nn.Linear(dim, 12), nn.Sigmoid())

    def forward(self, tokens):
        return self.to_pixels(self.embed(tokens))


def decode_tokens(decoder, tokens):
    torch.no_grad()  # finding: NG402
    pixels = decoder(tokens)
    return pixels.clamp(0.0, 1.0)


if __name__ == "__main__":
    image = decode_tokens(TokenDecoder(), torch.randint(0, 16, (1, 4)))
    assert torch.is_grad_enabled() and image.grad_fn is not None  # runtime-check: the bare no_grad() switched nothing off
