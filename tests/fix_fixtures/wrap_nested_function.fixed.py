import torch

# fix: wrap_no_grad@12:13


def make_trainer(model: torch.nn.Module, lr: float):
    def train_step(x: torch.Tensor) -> float:
        loss = model(x).pow(2).mean()
        loss.backward()

        def apply_update() -> None:
            with torch.no_grad():
                for p in model.parameters():
                    # plain SGD
                    p.add_(p.grad, alpha=-lr)
                    p.grad = None

        apply_update()
        return loss.item()

    return train_step
