"""Scoring as SR papers do: PSNR/SSIM on Y, and evaluation of a model against bicubic."""
