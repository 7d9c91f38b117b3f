"""SRGAN Studio's engine: training and upscaling in plain Python/PyTorch, with no Qt anywhere.

Subpackages by job: `training` (config, loop, checkpoints), `data` (folders, degradations), `archs`
(networks), `models` (model files), `upscaling` (tiled inference), `io` (images, PNG, atomic writes),
`scoring` (PSNR/SSIM, evaluation) and `cli` (`python -m engine`). The Qt adapter that runs engine jobs
on a thread lives in `gui.common.job_worker`, so the command line and the tests never load a GUI stack.
"""

__version__ = "0.1.0"
