import torch

# fix: wrap_no_grad@8:3


def evaluate(model, loader):
	if loader:
		for x in loader:
			out = model(x)
			print(out)  # tabs stay tabs
	return None
