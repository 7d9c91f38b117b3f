"""Upscaling: a model in an engine (PyTorch or ncnn, `backends`) run tile by tile (Upscaler), over files and
folders (BatchUpscaler)."""
