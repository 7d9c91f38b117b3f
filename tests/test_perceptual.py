"""The perceptual loss: named VGG layers, both input conventions, and weights found offline or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from engine.training.config import TrainConfig
from engine.training.perceptual import (BUNDLED_VGG, FEATURE_SCALE, PerceptualLoss, VGGFeatures, VGGWeightsError,
                               build_perceptual_loss, find_vgg_weights, hub_cache_path, layer_names,
                               missing_weights_message, preprocess, vgg_feature_stack)
from engine.resources import resource_path

SHALLOW = {"relu1_2": 1.0}  # weights for the first two convs are enough, and tiny


def shallow_config(**changes: object) -> TrainConfig:
    return TrainConfig(**{"perceptual_net": "vgg16", "perceptual_layers": SHALLOW, "perceptual_weight": 0.5,
                          **changes})


def loss_of(config: TrainConfig, **kwargs: object) -> PerceptualLoss:
    loss, note = build_perceptual_loss(config, (0.0, 1.0), **kwargs)
    assert loss is not None and note == ""
    return loss


@pytest.fixture
def no_bundled_vgg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """As if the bundled VGG file had been deleted."""
    missing = tmp_path / "deleted.safetensors"
    monkeypatch.setattr("engine.training.perceptual.BUNDLED_VGG", missing)
    return missing


def first_convs_state(prefix: str) -> dict[str, torch.Tensor]:
    """The first two conv layers of torchvision's VGG16 layout, as a weights file would hold them."""
    torch.manual_seed(1)
    state = vgg_feature_stack("vgg16")[:3].state_dict()
    return {f"{prefix}{key}": value for key, value in state.items()}


def test_layer_names_follow_the_papers() -> None:
    names = layer_names(vgg_feature_stack("vgg16"))
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names.index("relu4_3") == 22  # the article's vgg16.features[:23]
    assert layer_names(vgg_feature_stack("vgg19")).index("conv5_4") == 34  # ESRGAN's vgg19.features[:35]


def test_only_the_blocks_a_loss_needs_are_built() -> None:
    names = layer_names(vgg_feature_stack("vgg16", layers=["conv1_2", "conv3_3"]))
    assert names[-1] == "relu3_3" and "conv4_1" not in names
    full = vgg_feature_stack("vgg16")
    assert layer_names(vgg_feature_stack("vgg16", layers=["relu5_3"])) == layer_names(full)[:-1]


def test_features_are_truncated_frozen_and_pre_or_post_activation(thin_vgg16: torch.nn.Sequential) -> None:
    features = VGGFeatures(thin_vgg16, ["conv2_2", "relu2_2"])
    assert len(features.features) == layer_names(thin_vgg16).index("relu2_2") + 1
    assert not any(p.requires_grad for p in features.parameters())
    features.train()
    assert not features.training
    out = features(torch.randn(1, 3, 16, 16))
    assert (out["conv2_2"] < 0).any()  # taken before its ReLU, as ESRGAN does
    assert torch.equal(out["relu2_2"], out["conv2_2"].clamp(min=0))


def test_unknown_layer_is_named(thin_vgg16: torch.nn.Sequential) -> None:
    with pytest.raises(ValueError, match="relu9_9"):
        VGGFeatures(thin_vgg16, ["relu9_9"])


def test_preprocessing_of_a_known_pixel() -> None:
    pixel = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)  # RGB in [0, 1]
    torchvision = preprocess(pixel, (0.0, 1.0), "torchvision").flatten()
    expected = [(1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    assert torchvision.tolist() == pytest.approx(expected, rel=1e-5)
    caffe = preprocess(pixel * 2 - 1, (-1.0, 1.0), "caffe").flatten()  # same pixel from a tanh generator
    assert caffe.tolist() == pytest.approx([0 - 103.939, 127.5 - 116.779, 255 - 123.68], rel=1e-5)  # BGR, 0-255
    gray = preprocess(torch.full((1, 1, 1, 1), 0.5), (0.0, 1.0), "caffe").flatten()
    assert gray.tolist() == pytest.approx([127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68], rel=1e-5)


def test_injected_feature_net_drives_the_loss(thin_vgg16: torch.nn.Sequential) -> None:
    loss = loss_of(shallow_config(), feature_net=thin_vgg16)
    hr = torch.rand(2, 3, 16, 16)
    assert loss(hr.clone(), hr) == 0
    sr = (hr + 0.2 * torch.randn_like(hr)).requires_grad_(True)
    value = loss(sr, hr)
    value.backward()
    assert value > 0 and sr.grad is not None and sr.grad.abs().sum() > 0  # gradients reach the image
    assert all(p.grad is None for p in loss.parameters())  # never VGG


def test_caffe_features_are_brought_to_torchvision_scale() -> None:
    """A bias-free conv sees the same image through both conventions; once the Caffe features are
    rescaled, the two losses agree to within the conventions' mean/std differences, not 58x apart."""
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, bias=False))
    features = VGGFeatures(conv, ["conv1_1"])
    hr = torch.rand(2, 3, 16, 16)
    sr = (hr + 0.05 * torch.randn_like(hr)).clamp(0, 1)
    losses = {}
    for convention in ("torchvision", "caffe"):
        losses[convention] = float(PerceptualLoss(features, {"conv1_1": 1.0}, "l1", convention, (0.0, 1.0))(sr, hr))
    raw_caffe = float((conv(preprocess(sr, (0.0, 1.0), "caffe")) - conv(preprocess(hr, (0.0, 1.0), "caffe")))
                      .abs().mean())
    assert losses["caffe"] == pytest.approx(raw_caffe / FEATURE_SCALE["caffe"], rel=1e-5)
    assert 0.5 < losses["caffe"] / losses["torchvision"] < 2


def test_bundled_vgg16_is_on_out_of_the_box_and_sees_photos() -> None:
    """The bundled ImageNet features (fp16 on disk, fp32 in use, Caffe convention) give a real, non-zero
    loss between a photo and a blurred copy, and none between a photo and itself."""
    assert BUNDLED_VGG.is_file() and BUNDLED_VGG.stat().st_size < 31 * 2**20
    config = TrainConfig()
    assert find_vgg_weights(config).path == BUNDLED_VGG
    loss = loss_of(config)
    assert loss.convention == "caffe" and loss.features.features[0].weight.dtype == torch.float32
    photo = torch.from_numpy(np.array(Image.open(resource_path("samples", "sample_01.jpg")).convert("RGB")))
    photo = photo.permute(2, 0, 1)[None, :, :64, :64].float() / 255
    blurred = torch.nn.functional.avg_pool2d(photo, 3, 1, 1)
    assert float(loss(photo.clone(), photo)) == 0
    assert float(loss(blurred, photo)) > 0.01


def test_vgg19_layers_are_mapped_onto_the_bundled_vgg16_and_said_so() -> None:
    config = TrainConfig(perceptual_net="vgg19", perceptual_layers={"conv2_2": 0.1, "conv3_4": 1.0, "conv5_4": 1.0})
    source = find_vgg_weights(config)
    assert (source.path, source.net) == (BUNDLED_VGG, "vgg16")
    assert source.layers == {"conv2_2": 0.1, "conv3_3": 1.0, "conv5_3": 1.0}
    assert "VGG16" in source.note and "conv3_4->conv3_3" in source.note
    loss, note = build_perceptual_loss(config, (0.0, 1.0))
    assert note == source.note and set(loss.layer_weights) == {"conv2_2", "conv3_3", "conv5_3"}


def test_no_weights_anywhere_means_no_loss(empty_torch_hub: Path, no_bundled_vgg: Path) -> None:
    assert not hub_cache_path("vgg16").exists()
    assert hub_cache_path("vgg16").parent == empty_torch_hub / "checkpoints"
    assert build_perceptual_loss(TrainConfig(), (0.0, 1.0)) == (None, "")
    assert str(no_bundled_vgg) in missing_weights_message(TrainConfig())


def test_weights_in_the_hub_cache_win_over_the_bundled_ones(empty_torch_hub: Path) -> None:
    path = hub_cache_path("vgg16")
    path.parent.mkdir(parents=True)
    torch.save(first_convs_state("features."), path)
    loss = loss_of(shallow_config())
    assert loss.convention == "torchvision"
    assert torch.equal(loss.features.features[0].weight, first_convs_state("")["0.weight"])


@pytest.mark.parametrize("prefix", ["features.", ""])
def test_configured_pth_weights_win_over_both(tmp_path: Path, prefix: str) -> None:
    hub = hub_cache_path("vgg16")
    hub.parent.mkdir(parents=True)
    torch.save({key: value + 1 for key, value in first_convs_state("features.").items()}, hub)
    path = tmp_path / "vgg.pth"
    torch.save(first_convs_state(prefix), path)
    loss = loss_of(shallow_config(vgg_weights=str(path)))
    assert torch.equal(loss.features.features[2].weight, first_convs_state("")["2.weight"])
    value = loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
    assert torch.isfinite(value) and value > 0


def test_safetensors_metadata_sets_the_convention(tmp_path: Path) -> None:
    path = tmp_path / "vgg.safetensors"
    save_file(first_convs_state("features."), str(path), metadata={"convention": "caffe"})
    assert loss_of(shallow_config(vgg_weights=str(path))).convention == "caffe"
    explicit = shallow_config(vgg_weights=str(path), vgg_convention="torchvision")
    assert loss_of(explicit).convention == "torchvision"


def test_missing_configured_weights_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(VGGWeightsError, match="nowhere.pth"):
        build_perceptual_loss(shallow_config(vgg_weights=str(tmp_path / "nowhere.pth")), (0.0, 1.0))


def test_mismatched_weights_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "thin.pth"
    torch.save(vgg_feature_stack("vgg16", width_divisor=16)[:3].state_dict(), path)
    with pytest.raises(VGGWeightsError, match="does not match"):
        build_perceptual_loss(shallow_config(vgg_weights=str(path)), (0.0, 1.0))
    deep = shallow_config(vgg_weights=str(path), perceptual_layers={"relu3_1": 1.0})
    with pytest.raises(VGGWeightsError, match="missing"):
        build_perceptual_loss(deep, (0.0, 1.0))


@pytest.mark.parametrize("content", [b"", b"\x00", b"just some text", b"PK\x03\x04 broken zip"])
def test_unreadable_weights_files_are_one_line_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "vgg.pth"
    path.write_bytes(content)
    with pytest.raises(VGGWeightsError, match="vgg.pth") as caught:
        build_perceptual_loss(shallow_config(vgg_weights=str(path)), (0.0, 1.0))
    assert "\n" not in str(caught.value) and "weights_only" not in str(caught.value)


def test_a_hostile_pickle_as_weights_is_refused(tmp_path: Path) -> None:
    class Hostile:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    path = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": Hostile()}, path)
    with pytest.raises(VGGWeightsError, match="refused: vgg.pth is a pickle that would run code") as caught:
        build_perceptual_loss(shallow_config(vgg_weights=str(path)), (0.0, 1.0))
    assert "weights_only" not in str(caught.value)
