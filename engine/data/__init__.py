"""Training data: image folders, crops, and the degradations that make LR inputs from them."""
