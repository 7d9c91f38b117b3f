"""SRGAN Studio's engine: training and upscaling in plain Python/PyTorch.

Nothing here imports Qt except `engine.worker`, which this package never imports itself,
so the command line and the tests can use the engine without a GUI stack.
"""

__version__ = "0.1.0"
