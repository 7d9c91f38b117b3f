"""Upscaling: a model on a device run tile by tile (Upscaler), over files and folders (BatchUpscaler)."""
