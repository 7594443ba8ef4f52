import torch

x = 1
raise ValueError('boom')
