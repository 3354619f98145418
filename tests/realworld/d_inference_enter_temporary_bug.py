# realworld: https://github.com/facebookresearch/sam3/issues/577
# family: D
"""A notebook-style script switches to inference mode for the rest of the session with
`torch.inference_mode().__enter__()`. The guard lives on the temporary object that the statement
drops at once, so inference mode is gone again before the next line: the masks are computed with
grad on, build a graph, and are no inference tensors. The driver shows it
(`is_inference_mode_enabled()` is False and the masks have a `grad_fn`).
"""
import torch
import torch.nn as nn


class MaskDecoder(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.query = nn.Parameter(torch.randn(3, dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, image_feats):
        return torch.einsum("qd,bnd->bqn", self.query, self.proj(image_feats)).sigmoid()


if __name__ == "__main__":
    torch.inference_mode().__enter__()  # finding: NG402
    decoder = MaskDecoder()
    masks = decoder(torch.randn(2, 5, 8))
    assert not torch.is_inference_mode_enabled()  # runtime-check: the dropped guard left inference mode at once
    assert masks.grad_fn is not None and not masks.is_inference()  # runtime-check: the masks were recorded by autograd
