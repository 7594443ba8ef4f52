import torch
from torch import nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        b, t, c = x.shape
        hd = c // self.n_heads
        q, k, v = self.c_attn(x).view(b, t, 3, self.n_heads, hd).unbind(dim=2)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / hd ** 0.5
        future = torch.arange(t)[None, :] > torch.arange(t)[:, None]
        scores = torch.where(future, torch.full_like(scores, float("-inf")), scores)
        weights = F.softmax(scores, dim=-1)
        out = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, c)
        return self.c_proj(out)
