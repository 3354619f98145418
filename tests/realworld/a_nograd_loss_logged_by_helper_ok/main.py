# realworld: https://github.com/MultimediaTechLab/YOLO/pull/83
# family: A
"""The look-alike: the validation loss, computed under no_grad, goes to a helper of the sibling
package (project.reporting.record) that only stores its value; the loss that is back-propagated is
the training one, computed with grad, through a helper of the same package."""
import torch

from project.training.loop import fit

if __name__ == "__main__":
    model = torch.nn.Linear(3, 1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]
    history = fit(model, batches, batches[0], torch.optim.SGD(model.parameters(), lr=0.1))
    assert len(history["val"]) == 2 and all(isinstance(v, float) for v in history["val"])
