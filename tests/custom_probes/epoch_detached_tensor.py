def train_epoch(model, optimizer, loss_fn, batches):
    model.train()
    running = 0.0
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        running = running + loss.detach()
    return running / len(batches)
