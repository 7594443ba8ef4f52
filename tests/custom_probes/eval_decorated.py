import torch


@torch.no_grad()
def evaluate(model, batches):
    was_training = model.training
    model.train(False)
    correct = total = 0
    for x, y in batches:
        predictions = model(x).max(dim=1).indices
        correct += (predictions == y).sum().item()
        total += y.shape[0]
    if was_training:
        model.train()
    return correct / total
