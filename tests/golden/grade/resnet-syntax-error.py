import torch

class ResidualBlock(nn.Module)
    pass
