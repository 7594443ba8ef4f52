import torch
from torch import nn


class MyEmbedding(nn.Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim))
        nn.init.normal_(self.weight)

    def forward(self, indices):
        rows = torch.index_select(self.weight, 0, indices.reshape(-1))
        return rows.reshape(*indices.shape, self.weight.shape[1])
