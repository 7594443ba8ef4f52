import torch
import torch.nn.functional as F
from torch import nn


class TiedLM(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.hidden = nn.Linear(dim, dim)

    def forward(self, idx):
        return F.linear(torch.tanh(self.hidden(self.embed(idx))), self.embed.weight)
