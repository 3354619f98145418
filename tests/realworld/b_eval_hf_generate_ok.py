# realworld: https://github.com/huggingface/transformers/issues/28319
# family: B
"""A small decoder-only model defines its own Hugging Face-style `generate()`: a top-k sampling
loop that runs `self(ids)` once per new token. Like the library's, the method is decorated with
`@torch.no_grad()`, so the per-step forwards build no graph and the returned scores carry none.
Correct."""
import torch
import torch.nn as nn


class TinyDecoder(nn.Module):
    def __init__(self, vocab=20, dim=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab)

    def forward(self, ids):
        h = self.tok(ids).cumsum(1) / torch.arange(1, ids.shape[1] + 1)[None, :, None]
        return self.lm_head(torch.relu(self.mix(h)))

    @torch.no_grad()
    def generate(self, ids, max_new_tokens, top_k=5):
        scores = []
        for _ in range(max_new_tokens):
            logits = self(ids)[:, -1]
            vals, idx = logits.topk(top_k, dim=-1)
            pick = torch.multinomial(vals.softmax(-1), 1)
            nxt = idx.gather(-1, pick)
            scores.append(vals.log_softmax(-1).gather(-1, pick))
            ids = torch.cat([ids, nxt], dim=1)
        return ids, torch.cat(scores, 1)


if __name__ == "__main__":
    model = TinyDecoder()
    model.eval()
    out_ids, out_scores = model.generate(torch.randint(0, 20, (2, 3)), max_new_tokens=4)
    assert out_ids.shape == (2, 7)
    assert not out_scores.requires_grad
