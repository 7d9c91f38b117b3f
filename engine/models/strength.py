"""The strength control: network interpolation between a model and its partner (ESRGAN's net interp,
Real-ESRGAN's `-dn`). Two weight sets of one architecture, mixed tensor by tensor, give one network whose
output moves smoothly from the partner's (faithful, strength 0) to the model's (crisp, strength 1) at the
cost of running one network, not two. Which models have a partner is `engine.models.sources.STRENGTH_PARTNERS`."""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from pathlib import Path

import torch

from engine.errors import ModelLoadError
from engine.models.registry import LoadedModel, load_model
from engine.models.sources import partner_for_strength, resolve_model_source

CACHED_STRENGTHS = 8  # mixed networks kept, most recently used first: a slider goes back and forth


def validate_strength(strength: float) -> float:
    """`strength` as a float in [0, 1]; ValueError naming the value otherwise."""
    value = float(strength)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, not {strength}")
    return value


def interpolate_states(faithful: dict[str, torch.Tensor], crisp: dict[str, torch.Tensor],
                       strength: float) -> dict[str, torch.Tensor]:
    """(1 - strength) * faithful + strength * crisp for every floating-point tensor (others must be equal:
    they are counters, not weights). The two must have the same keys and shapes: one architecture."""
    strength = validate_strength(strength)
    if faithful.keys() != crisp.keys():
        different = sorted(faithful.keys() ^ crisp.keys())
        raise ModelLoadError(f"the two models are not one architecture (tensors only in one: {', '.join(different[:3])})")
    mixed = {}
    for key, low in faithful.items():
        high = crisp[key]
        if low.shape != high.shape:
            raise ModelLoadError(f"the two models are not one architecture ({key}: {tuple(low.shape)} "
                                 f"against {tuple(high.shape)})")
        mixed[key] = torch.lerp(low.float(), high.float(), strength).to(high.dtype) if high.is_floating_point() else high
    return mixed


class StrengthMixer:
    """A model and its partner loaded once; `at(strength)` is a network with the mixed weights, which are
    computed once per value (the last CACHED_STRENGTHS values are kept). Each call builds a fresh module,
    so an upscaler moving one to a GPU or to half precision never alters the cached weights."""

    def __init__(self, crisp: LoadedModel, faithful: LoadedModel) -> None:
        self.crisp = crisp
        self._crisp_state = {k: v.detach().clone() for k, v in crisp.module.state_dict().items()}
        self._faithful_state = {k: v.detach().clone() for k, v in faithful.module.state_dict().items()}
        interpolate_states(self._faithful_state, self._crisp_state, 0.0)  # refuse a partner of another shape now
        self._cache: OrderedDict[float, dict[str, torch.Tensor]] = OrderedDict()

    def weights(self, strength: float) -> dict[str, torch.Tensor]:
        """The mixed weights at `strength`, from the cache when this value was asked for recently."""
        strength = round(validate_strength(strength), 4)
        if strength not in self._cache:
            self._cache[strength] = interpolate_states(self._faithful_state, self._crisp_state, strength)
            while len(self._cache) > CACHED_STRENGTHS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(strength)
        return self._cache[strength]

    def at(self, strength: float) -> LoadedModel:
        """The network at `strength` (1 = the model itself, 0 = its partner)."""
        module = copy.deepcopy(self.crisp.module)
        module.load_state_dict(self.weights(strength))
        mixed = copy.copy(self.crisp)
        mixed.module, mixed.name = module.eval(), f"{self.crisp.name} at strength {strength:g}"
        mixed.metadata = {**self.crisp.metadata, "strength": round(float(strength), 4)}
        return mixed


@functools.lru_cache(maxsize=2)
def _mixer(path: str, which: str, partner: str, changed: tuple[int, int]) -> StrengthMixer:
    """One mixer per model file and version (`changed`: both files' modification times)."""
    return StrengthMixer(load_model(path, which=which), load_model(partner))


def load_at_strength(source: str | Path, which: str = "ema", strength: float | None = None) -> LoadedModel:
    """`load_model(source)`, or with `strength` the network mixed with its partner at that strength;
    ModelLoadError when the model has no partner, ValueError for a strength outside [0, 1]."""
    if strength is None:
        return load_model(source, which=which)
    validate_strength(strength)
    partner = partner_for_strength(source)
    path = resolve_model_source(source)
    changed = (path.stat().st_mtime_ns, partner.stat().st_mtime_ns)
    return _mixer(str(path), which, str(partner), changed).at(strength)
