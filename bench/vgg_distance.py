"""The perceptual distance in every bench/quality.py table: LPIPS's unlearned VGG16 baseline, computed
with the ImageNet VGG16 the app bundles (engine.training.perceptual.BUNDLED_VGG), so it needs no download.

Why not LPIPS itself. LPIPS (Zhang et al. 2018) is this distance with one learned non-negative weight per
channel and layer; the `lpips` wheel (0.1.4, BSD-2) ships those heads (lpips/weights/v0.1/vgg.pth, 7 KB:
1472 weights, 64/128/256/512/512 per layer). They were fitted to human judgements on the channels of
torchvision's VGG16, and torchvision's weights cannot be downloaded here. The bundled VGG16 has the same
shapes but is the original Caffe/Keras training: two independently trained networks share no channel
order (any permutation of a layer's filters, with the next layer's inputs, is the same network), and past
the first layers not even a permutation relates them, at best a learned linear map, which would need
both networks' activations on the same images. So head k would weight an unrelated channel k. Measured
(7 held-out photos, `photo` degradation, 256- and 384-px crops): the heads' weights have no rank correlation with
our channels' share of the distance or their mean activation at any layer (Spearman |rho| <= 0.11, inside
the 95% band of random permutations), and applying them anyway gave faithful-x4 / bicubic distance
ratios from 0.986 to 1.022 across 20 random channel assignments: which method looks closer would depend
on an arbitrary choice. Published LPIPS needs the heads on torchvision's VGG16 (`lpips.LPIPS(net="vgg")`
with those weights in torch's hub cache); this module does not pretend otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.scoring.pairs import BenchError
from engine.training.perceptual import VGGFeatures, VGGWeightsError, load_vgg_weights, preprocess, vgg_feature_stack

LPIPS_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
VGG_NOTE = ("'VGG dist' is LPIPS's unlearned baseline (Zhang et al. 2018) on the bundled ImageNet VGG16: "
            "relu1_2..relu5_3 features unit-normalised over channels, squared differences summed over "
            "channels, averaged over positions and over the 5 layers (the lpips package's lpips=False sums "
            "the layers: 5x these values); 0 = identical features, lower = perceptually closer.")


class VggDistance:
    """A perceptual distance from offline VGG16 weights (see VGG_NOTE)."""

    def __init__(self, weights: Path) -> None:
        self.features = VGGFeatures(vgg_feature_stack("vgg16"), LPIPS_LAYERS)
        try:
            self.convention = load_vgg_weights(self.features.features, weights) or "torchvision"
        except VGGWeightsError as exc:
            raise BenchError(str(exc)) from None

    @torch.no_grad()
    def embed(self, pixels: np.ndarray) -> list[torch.Tensor]:
        """Each layer's features of an HxWx3 uint8 image, unit length over channels at every position."""
        x = torch.from_numpy(np.array(pixels, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        outputs = self.features(preprocess(x, (0.0, 1.0), self.convention))
        return [f / (f.norm(dim=1, keepdim=True) + 1e-10) for f in outputs.values()]

    @staticmethod
    def distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
        return float(np.mean([((fa - fb) ** 2).sum(dim=1).mean().item() for fa, fb in zip(a, b)]))
