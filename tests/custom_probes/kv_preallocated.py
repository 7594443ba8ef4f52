import math

import torch
from torch import nn


class CachedSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.k_cache = self.v_cache = None
        self.length = 0

    def reset_cache(self):
        self.k_cache = self.v_cache = None
        self.length = 0

    def forward(self, x):
        b, t, c = x.shape
        d = c // self.h
        q, k, v = self.qkv(x).view(b, t, 3, self.h, d).permute(2, 0, 3, 1, 4)
        if self.k_cache is None:
            self.k_cache, self.v_cache = k, v
        else:
            self.k_cache = torch.cat([self.k_cache, k], dim=2)
            self.v_cache = torch.cat([self.v_cache, v], dim=2)
        start = self.length
        self.length += t
        total = self.length
        allowed = torch.ones(total, total, dtype=torch.bool).tril()[start:total]
        scores = torch.einsum("bhqd,bhkd->bhqk", q, self.k_cache) / math.sqrt(d)
        scores = scores.masked_fill(~allowed, float("-inf"))
        out = torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), self.v_cache)
        return self.proj(out.transpose(1, 2).reshape(b, t, c))
