import torch


def train_epoch(model, optimizer, loss_fn, batches):
    model.train()
    total = torch.zeros(())
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return (total / len(batches)).item()
