import torch
import torch.autograd as ag


def jacobian(f, x):
    x = x.detach().requires_grad_(True)
    y = f(x)
    (J,) = ag.grad(y, x, torch.eye(len(y)), is_grads_batched=True)
    return J.detach()
