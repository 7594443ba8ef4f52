import math

import torch
from torch import nn


class CachedSelfAttention(nn.Module):
    """reset_cache() forgets the keys and values but not the number of tokens seen."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.seen = 0
        self.keys = self.values = None

    def reset_cache(self):
        self.keys = self.values = None

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.n_heads, -1).transpose(1, 2) for z in self.qkv(x).split(c, dim=-1))
        if self.keys is not None:
            k, v = torch.cat([self.keys, k], dim=2), torch.cat([self.values, v], dim=2)
        self.keys, self.values = k, v
        past = self.seen
        self.seen += t
        total = k.shape[2]
        future = torch.ones(t, total, dtype=torch.bool).triu(diagonal=past + 1)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(future, float("-inf"))
        return self.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c))
