import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    """Rotates, then scales each pair by 1.01: not a rotation any more."""

    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        self.base = base

    def forward(self, x):
        t, d = x.shape[-2], x.shape[-1]
        half = d // 2
        inv_freq = self.base ** (-2 * torch.arange(half, dtype=torch.float64) / d)
        angles = torch.arange(t, dtype=torch.float64)[:, None] * inv_freq[None, :]
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        a, b = x[..., :half], x[..., half:]
        return 1.01 * torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)
