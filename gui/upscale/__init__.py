"""The Upscale tab: the queue, the model picker, before/after view, saving results."""
