"""SRGAN Studio's engine: training and upscaling in plain Python/PyTorch, with no Qt outside `engine.qt`.

Subpackages by job: `training` (config, loop, checkpoints), `data` (folders, degradations), `archs`
(networks), `models` (model files), `upscaling` (tiled inference), `io` (images, PNG, atomic writes),
`scoring` (PSNR/SSIM, evaluation) and `cli` (`python -m engine`). `qt` is the one exception to "no Qt":
the adapter that runs an engine job (`jobs.Job`) on a QThread for the window; nothing else in the engine
imports it, so the command line and the engine's tests never load a GUI stack.
"""

__version__ = "0.1.0"
