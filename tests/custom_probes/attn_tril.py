import math

import torch
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, C = x.shape
        d = C // self.h
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.reshape(B, T, self.h, d).permute(0, 2, 1, 3)
        k = k.reshape(B, T, self.h, d).permute(0, 2, 1, 3)
        v = v.reshape(B, T, self.h, d).permute(0, 2, 1, 3)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
        allowed = torch.tril(torch.ones(T, T, device=x.device)).bool()
        att = att.masked_fill(~allowed, torch.finfo(att.dtype).min)
        att = att.softmax(dim=-1)
        y = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(B, T, C)
        return self.out(y)
