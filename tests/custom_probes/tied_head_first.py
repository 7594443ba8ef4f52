from torch import nn


class TiedLM(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)
        self.wte = nn.Embedding(vocab_size, dim)
        self.wte.weight = self.lm_head.weight
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())

    def forward(self, idx):
        return self.lm_head(self.mlp(self.wte(idx)))
