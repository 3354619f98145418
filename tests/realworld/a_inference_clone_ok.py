# realworld: https://github.com/andimarafioti/faster-qwen3-tts/pull/37
# family: A
"""A voice-adapter trainer encodes each reference clip into discrete codec codes with a frozen
codec method decorated `@torch.inference_mode()` and caches the codes per speaker. The cached
codes are inference tensors; before they reach the trainable code embedding, `_codes_for` takes a
`.clone()` outside inference mode, which is an ordinary tensor the embedding may save for
backward. Training runs and the adapter gets gradients. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FrozenCodec(nn.Module):
    def __init__(self, frame=4, codebook=16):
        super().__init__()
        self.frame = frame
        self.proj = nn.Linear(frame, codebook)

    @torch.inference_mode()
    def encode(self, wave):
        frames = wave.unfold(-1, self.frame, self.frame)
        return self.proj(frames).argmax(-1)


class VoiceAdapter(nn.Module):
    def __init__(self, codec, codebook=16, dim=8):
        super().__init__()
        self.codec = codec
        self.code_embedding = nn.Embedding(codebook, dim)
        self.to_mel = nn.Linear(dim, 5)
        self._prompt_cache = {}

    def _codes_for(self, speaker, wave):
        if speaker not in self._prompt_cache:
            self._prompt_cache[speaker] = self.codec.encode(wave)
        return self._prompt_cache[speaker].clone()

    def forward(self, speaker, wave):
        codes = self._codes_for(speaker, wave)
        return self.to_mel(self.code_embedding(codes))


def train_step(adapter, speaker, wave, target_mel, opt):
    loss = F.mse_loss(adapter(speaker, wave), target_mel)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


if __name__ == "__main__":
    adapter = VoiceAdapter(FrozenCodec().requires_grad_(False))
    opt = torch.optim.Adam([p for p in adapter.parameters() if p.requires_grad], lr=1e-2)
    wave = torch.randn(1, 24)
    for _ in range(3):
        train_step(adapter, "spk0", wave, torch.randn(1, 6, 5), opt)
    assert adapter._prompt_cache["spk0"].is_inference()
    assert adapter.code_embedding.weight.grad is not None
