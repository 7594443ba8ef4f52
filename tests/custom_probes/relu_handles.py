from torch import nn


def relu_zero_fractions(model, x):
    found = []
    handles = []
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            slot = len(found)
            found.append(None)

            def hook(mod, args, out, slot=slot):
                found[slot] = float((out == 0).sum()) / out.numel()

            handles.append(module.register_forward_hook(hook))
    model(x)
    for handle in handles:
        handle.remove()
    return found
