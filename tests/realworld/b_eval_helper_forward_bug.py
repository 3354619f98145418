# realworld: https://github.com/sgl-project/sglang-omni/pull/1720
# family: B
"""A serving loop for a speech model runs each request through two per-step helpers. The backbone
step is decorated with `@torch.no_grad()`, but the code prediction that follows runs in a second
helper under the loop's grad mode, which is on: its `predictor(hidden)` is a forward of the
model's code-predictor head, so every request records a graph through it. The loop calls no model
itself; the grad-on forward is one call away, inside `predict_codes()`."""
import torch
import torch.nn as nn


class Talker(nn.Module):
    def __init__(self, dim=8, codebook=16):
        super().__init__()
        self.backbone = nn.Linear(dim, dim)
        self.code_predictor = nn.Sequential(nn.Linear(dim, 32), nn.GELU(), nn.Linear(32, codebook))

    def forward(self, feats):
        return self.backbone(feats).tanh()


@torch.no_grad()
def prefill(talker, feats):
    return talker(feats)


def predict_codes(predictor, hidden):
    logits = predictor(hidden)
    return logits.argmax(-1), logits.softmax(-1).amax(-1)


def serve(talker, requests):
    talker.eval()
    replies = []
    for feats in requests:  # finding: NG201
        hidden = prefill(talker, feats)
        codes, confidence = predict_codes(talker.code_predictor, hidden)
        replies.append({"codes": codes.tolist(), "confidence": confidence.mean().item()})
    return replies


if __name__ == "__main__":
    model = Talker()
    graph_flags = []
    model.code_predictor.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    out = serve(model, [torch.randn(2, 8) for _ in range(3)])
    assert graph_flags and all(graph_flags)  # runtime-check: the helper's forward records a graph per request
