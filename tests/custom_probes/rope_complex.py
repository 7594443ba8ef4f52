import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        self.head_dim, self.base = head_dim, base

    def forward(self, x):
        T, D = x.shape[-2], x.shape[-1]
        half = D // 2
        freqs = 1.0 / (self.base ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
        angles = torch.outer(torch.arange(T, dtype=torch.float64), freqs)
        rotation = torch.polar(torch.ones_like(angles), angles)
        pairs = torch.complex(x[..., :half].double(), x[..., half:].double())
        turned = pairs * rotation
        return torch.cat([turned.real, turned.imag], dim=-1).to(x.dtype)
