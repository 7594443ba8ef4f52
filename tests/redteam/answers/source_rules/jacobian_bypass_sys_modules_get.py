import sys

import torch


def jacobian(f, x):
    return sys.modules.get("torch.autograd.functional").jacobian(f, x)
