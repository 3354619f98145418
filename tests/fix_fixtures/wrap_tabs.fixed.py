import torch

# fix: wrap_no_grad@8:3


def evaluate(model, loader):
	if loader:
		with torch.no_grad():
			for x in loader:
				out = model(x)
				print(out)  # tabs stay tabs
	return None
