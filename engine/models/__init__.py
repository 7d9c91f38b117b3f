"""Model files: our safetensors exports, safe reading of any .pth, and the registry that loads them."""
