import math

import torch
from torch import nn


class MyEmbedding(nn.Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        bound = math.sqrt(3.0)  # a uniform with standard deviation 1: not a normal
        self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim).uniform_(-bound, bound))

    def forward(self, indices):
        return self.weight[indices]
