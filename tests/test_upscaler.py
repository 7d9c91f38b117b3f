"""Upscaler (one array) and BatchUpscaler (files): channels, alpha, sizes, metadata, bad input, cancel."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from engine.archs.networks import CompactGenerator
from engine.events import BackendChosen, BatchDone, ItemDone, ItemFailed, ItemRead, ItemStarted, TileProgress
from engine.models.export import export_generator
from engine.io.images import ORIENTATION_TAG, read_image
from engine.models.registry import LoadedModel, load_model
from tests.png_helpers import write_png
from engine.upscaling.torch_backend import network_for, resolve_dtype
from engine.upscaling.upscaler import OptionsError, Upscaler
from engine.upscaling.batch import BatchUpscaler, UpscaleOptions, collect_inputs, free_path, output_name, target_size


def tiny_model(tmp_path: Path, channels: int = 3) -> LoadedModel:
    torch.manual_seed(channels)
    net = CompactGenerator(channels, num_feat=8, num_conv=2, scale=4)
    return load_model(export_generator(tmp_path / f"tiny{channels}.safetensors", net.state_dict(), net.spec(),
                                       (0.0, 1.0)))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


@pytest.fixture
def rgb_model(tmp_path: Path) -> LoadedModel:
    return tiny_model(tmp_path, 3)


def run_batch(inputs: list, options: UpscaleOptions, model: LoadedModel) -> list:
    return list(BatchUpscaler(inputs, options, model).run())


# ----------------------------------------------------------------------------- one array
def test_grey_into_rgb_model_comes_back_grey(rgb_model: LoadedModel) -> None:
    out = Upscaler(rgb_model, "cpu", tile=16, overlap=8).upscale(noise(10, 12, 1))
    assert out.shape == (40, 48, 1) and out.dtype == np.uint8


def test_colour_into_grey_model_runs_on_luma_and_keeps_colour(tmp_path: Path) -> None:
    red = np.zeros((12, 12, 3), dtype=np.uint8)
    red[..., 0] = 200
    out = Upscaler(tiny_model(tmp_path, 1), "cpu").upscale(red)
    assert out.shape == (48, 48, 3)
    assert out[..., 0].mean() > out[..., 1].mean() + 100  # chroma carried by bicubic, still red


def test_alpha_pattern_survives(rgb_model: LoadedModel) -> None:
    rgba = noise(16, 16, 4)
    rgba[:, :8, 3], rgba[:, 8:, 3] = 0, 255  # left half transparent, right half opaque
    out = Upscaler(rgb_model, "cpu").upscale(rgba)
    assert out.shape == (64, 64, 4)
    assert out[:, :28, 3].max() < 10 and out[:, 36:, 3].min() > 245


def test_one_pixel_image_works(rgb_model: LoadedModel) -> None:
    assert Upscaler(rgb_model, "cpu").upscale(noise(1, 1)).shape == (4, 4, 3)


def test_progress_and_tiles(rgb_model: LoadedModel) -> None:
    seen: list[tuple[int, int]] = []
    Upscaler(rgb_model, "cpu", tile=16, overlap=8).upscale(noise(40, 40), progress=lambda d, t: seen.append((d, t)))
    assert len(seen) > 1 and seen[-1][0] == seen[-1][1] == len(seen)


def test_half_precision_is_never_used_on_the_cpu(rgb_model: LoadedModel) -> None:
    assert resolve_dtype("auto", torch.device("cpu"), rgb_model) == torch.float32
    with pytest.raises(OptionsError, match="for GPUs"):
        resolve_dtype("fp16", torch.device("cpu"), rgb_model)
    assert resolve_dtype("auto", torch.device("cuda"), rgb_model) in (torch.bfloat16, torch.float16)


def test_target_sizes() -> None:
    assert target_size(30, 20, 4) == (120, 80)
    assert target_size(30, 20, 4, scale=2) == (60, 40)
    assert target_size(30, 20, 4, target_width=45) == (45, 30)


def test_options_are_validated() -> None:
    assert UpscaleOptions(tile="auto").tile == 0
    for bad in ({"tile": 3}, {"quality": 0}, {"format": "bmp"}, {"scale": 2, "width": 10}, {"which": "best"},
                {"overlap": -1}, {"device": "tpu"}):
        with pytest.raises(OptionsError):
            UpscaleOptions(**bad)


# ----------------------------------------------------------------------------- batch
def test_batch_writes_named_outputs_and_reports_events(tmp_path: Path, rgb_model: LoadedModel) -> None:
    Image.fromarray(noise(10, 14)).save(tmp_path / "photo.jpg")
    out_dir = tmp_path / "out"
    events = run_batch([tmp_path / "photo.jpg"], UpscaleOptions(out_dir=str(out_dir), tile=16), rgb_model)
    assert [type(e) for e in events[:4]] == [BackendChosen, ItemStarted, ItemRead, TileProgress]
    assert events[0].scale == 4 and events[0].description
    assert (events[2].in_size, events[2].out_size, events[2].pixels.shape) == ((14, 10), (56, 40), (10, 14, 3))
    done = events[-2]
    assert isinstance(done, ItemDone) and done.output_path == str(out_dir / "photo_x4.jpg") and done.image is None
    assert events[-1] == BatchDone(succeeded=[str(out_dir / "photo_x4.jpg")], failed=[], cancelled=False)
    with Image.open(out_dir / "photo_x4.jpg") as written:
        assert written.size == (56, 40) and written.format == "JPEG"


def test_batch_without_out_dir_returns_images_at_the_target_scale(tmp_path: Path, rgb_model: LoadedModel) -> None:
    Image.fromarray(noise(10, 14)).save(tmp_path / "a.png")
    events = run_batch([tmp_path / "a.png"], UpscaleOptions(out_dir=None, scale=2), rgb_model)
    done = [e for e in events if isinstance(e, ItemDone)][0]
    assert done.output_path is None and done.image.shape == (20, 28, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "tiny3.safetensors"]  # nothing written


def test_exif_orientation_icc_and_alpha_reach_the_output(tmp_path: Path, rgb_model: LoadedModel) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    rgba = noise(10, 16, 4)
    rgba[..., 3] = 255
    rgba[:5, :, 3] = 0  # top half transparent before rotation
    Image.fromarray(rgba).save(tmp_path / "turn.png", icc_profile=icc, exif=exif.tobytes())
    run_batch([tmp_path / "turn.png"], UpscaleOptions(out_dir=str(tmp_path / "out")), rgb_model)
    with Image.open(tmp_path / "out" / "turn_x4.png") as written:
        assert written.size == (40, 64) and written.mode == "RGBA"
        assert written.getexif()[ORIENTATION_TAG] == 1 and written.info["icc_profile"] == icc
        alpha = np.asarray(written)[..., 3]
    assert alpha[:, 2:18].min() > 245 and alpha[:, 22:38].max() < 10  # the transparent top is now on the right


def test_bad_inputs_fail_alone_and_nothing_is_touched(tmp_path: Path, rgb_model: LoadedModel) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(noise(12, 12)).save(inputs / "good.png")
    Image.fromarray(noise(12, 12)).save(inputs / "really_png.jpg", format="PNG")
    Image.fromarray(noise(1, 1)).save(inputs / "dot.png")
    Image.new("L", (1100, 1000)).save(inputs / "bomb.png")
    (inputs / "empty.png").write_bytes(b"")
    (inputs / "cut.png").write_bytes((inputs / "good.png").read_bytes()[:90])
    (inputs / "notes.txt").write_text("not an image")
    (inputs / "gone.png").symlink_to(tmp_path / "missing.png")
    before = {p.name: digest(p) for p in inputs.iterdir() if p.is_file()}
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.png").write_bytes(b"someone else's file")
    options = UpscaleOptions(out_dir=str(out_dir), max_pixels=1_000_000)
    done = run_batch([inputs, inputs / "notes.txt"], options, rgb_model)[-1]
    reasons = {Path(path).name: reason for path, reason in done.failed}
    assert reasons == {
        "bomb.png": "image too large (1 megapixels) — refused as a possible decompression bomb",
        "cut.png": reasons["cut.png"], "empty.png": "empty.png is empty (0 bytes)",
        "gone.png": f"{inputs / 'gone.png'} does not exist", "notes.txt": "notes.txt is not an image file, or in a format this app cannot open"}
    assert "damaged or truncated" in reasons["cut.png"]
    assert sorted(Path(p).name for p in done.succeeded) == ["dot_x4.png", "good_x4.png", "really_png_x4.png"]
    assert {p.name: digest(p) for p in inputs.iterdir() if p.is_file()} == before
    assert (out_dir / "keep.png").read_bytes() == b"someone else's file"


def test_output_folder_that_is_a_file_fails_clearly(tmp_path: Path, rgb_model: LoadedModel) -> None:
    Image.fromarray(noise(8, 8)).save(tmp_path / "a.png")
    (tmp_path / "blocker").write_bytes(b"x")
    done = run_batch([tmp_path / "a.png"], UpscaleOptions(out_dir=str(tmp_path / "blocker")), rgb_model)[-1]
    assert done.failed == [(str(tmp_path / "a.png"), f"cannot create the output folder {tmp_path / 'blocker'}: "
                                                     "a file is in the way")]
    assert (tmp_path / "blocker").read_bytes() == b"x"


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path, rgb_model: LoadedModel) -> None:
    Image.fromarray(noise(8, 8)).save(tmp_path / "a.png")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "a_x4.png").write_bytes(b"older result")
    done = run_batch([tmp_path / "a.png"], UpscaleOptions(out_dir=str(out_dir)), rgb_model)[-1]
    assert "already exists" in done.failed[0][1] and (out_dir / "a_x4.png").read_bytes() == b"older result"
    done = run_batch([tmp_path / "a.png"], UpscaleOptions(out_dir=str(out_dir), overwrite=True), rgb_model)[-1]
    assert done.succeeded and Image.open(out_dir / "a_x4.png").size == (32, 32)


def test_stop_cancels_mid_image_and_starts_nothing_else(tmp_path: Path, rgb_model: LoadedModel) -> None:
    for name in ("a.png", "b.png"):
        Image.fromarray(noise(40, 40)).save(tmp_path / name)
    batch = BatchUpscaler([tmp_path / "a.png", tmp_path / "b.png"],
                          UpscaleOptions(out_dir=str(tmp_path / "out"), tile=16, overlap=4), rgb_model)
    events = []
    for event in batch.run():
        events.append(event)
        if isinstance(event, TileProgress):
            batch.request_stop()
    assert [type(e) for e in events] == [BackendChosen, ItemStarted, ItemRead, TileProgress, BatchDone]
    assert events[-1].cancelled and not events[-1].succeeded
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unreadable_explicit_input_is_reported_not_raised(tmp_path: Path, rgb_model: LoadedModel) -> None:
    events = run_batch([tmp_path / "nope.png"], UpscaleOptions(out_dir=str(tmp_path / "out")), rgb_model)
    assert isinstance(events[2], ItemFailed) and "does not exist" in events[2].message


def test_one_naming_rule_names_the_model_unless_it_is_the_default(tmp_path: Path) -> None:
    assert output_name(Path("in/photo.jpg"), 10, 40, "png") == "photo_x4.png"
    assert output_name(Path("photo.jpg"), 10, 40, "jpg", "/models/default-x4.safetensors") == "photo_x4.jpg"
    assert output_name(Path("photo.png"), 20, 50, "webp", "/runs/a/best.safetensors") == "photo_best_x2.5.webp"
    assert output_name(Path("photo.png"), 3, 4, "png", "my model (v2).pth") == "photo_my-model-v2_x1.33.png"
    (tmp_path / "photo_x4.png").write_bytes(b"")
    claimed = {tmp_path / "photo_x4_2.png"}
    assert free_path(tmp_path / "photo_x4.png", claimed) == tmp_path / "photo_x4_3.png"
    assert free_path(tmp_path / "other_x4.png", claimed) == tmp_path / "other_x4.png"


def test_folder_search_skips_non_images_and_the_output_folder(tmp_path: Path) -> None:
    Image.fromarray(noise(8, 8)).save(tmp_path / "b.png")
    Image.fromarray(noise(8, 8)).save(tmp_path / "no_extension", format="PNG")
    (tmp_path / "sub").mkdir()
    Image.fromarray(noise(8, 8)).save(tmp_path / "sub" / "a.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "upscaled").mkdir()
    Image.fromarray(noise(8, 8)).save(tmp_path / "upscaled" / "b_x4.png")
    items = collect_inputs([tmp_path], exclude=(tmp_path / "upscaled").resolve())
    assert [(item.path.name, str(item.sub_dir)) for item in items] == [
        ("b.png", "."), ("no_extension", "."), ("a.png", "sub")]
    assert [item.sub_dir for item in collect_inputs([tmp_path], keep_tree=False)] == [Path()] * 4


def test_size_requirements_of_third_party_models_are_met_by_padding(rgb_model: LoadedModel) -> None:
    class NeedsMultipleOf8(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0, f"got {tuple(x.shape)}"
            return rgb_model.module(x)

    strict = LoadedModel(NeedsMultipleOf8(), 4, 3, (0.0, 1.0), "strict", "spandrel", False, False, size_multiple=8)
    image = noise(13, 10)
    padded = Upscaler(strict, "cpu").upscale(image)
    assert padded.shape == (52, 40, 3)
    direct = Upscaler(rgb_model, "cpu").upscale(image)
    # Beyond the receptive radius (4 LR px) of the padded bottom and right edges, padding changes nothing.
    assert np.abs(padded[:36, :24].astype(int) - direct[:36, :24]).max() <= 1


# ----------------------------------------------------------------------------- depth, alpha, animation
def test_grey_with_alpha_round_trips_with_its_alpha(tmp_path: Path, rgb_model: LoadedModel) -> None:
    la = np.stack([noise(12, 16, 1)[..., 0], np.zeros((12, 16), np.uint8)], axis=2)
    la[:, 8:, 1] = 255  # left half transparent, right half opaque
    Image.fromarray(la).save(tmp_path / "la.png")
    done = run_batch([tmp_path / "la.png"], UpscaleOptions(out_dir=str(tmp_path / "out")), rgb_model)[-1]
    assert not done.failed
    with Image.open(tmp_path / "out" / "la_x4.png") as written:
        assert written.mode == "LA" and written.size == (64, 48)
        alpha = np.asarray(written)[..., 1]
    assert alpha[:, :28].max() < 10 and alpha[:, 36:].min() > 245


def write_deep_png(path: Path, values: np.ndarray) -> Path:
    with path.open("wb") as file:
        write_png(file, values)
    return path


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_sixteen_bits_in_give_sixteen_bits_out(tmp_path: Path, rgb_model: LoadedModel, channels: int) -> None:
    """A ramp of 256 steps spanning one 8-bit level: through 8 bits it would come out flat."""
    ramp = np.tile((np.arange(16, dtype=np.uint16) * 16 + 40_000)[None, :, None], (16, 1, channels))
    if channels == 4:
        ramp[..., 3] = 65535
    write_deep_png(tmp_path / "deep.png", ramp)
    run_batch([tmp_path / "deep.png"], UpscaleOptions(out_dir=str(tmp_path / "out")), rgb_model)
    out = tmp_path / "out" / "deep_x4.png"
    assert out.read_bytes()[24] == 16  # IHDR bit depth
    pixels = read_image(out).pixels
    assert pixels.shape == (64, 64, 1 if channels == 1 else 3)
    assert len(np.unique(np.round(pixels * 65535))) > 40  # 8 bits could hold 2 or 3 values here


def test_sixteen_bit_tiff_gives_a_sixteen_bit_png(tmp_path: Path, rgb_model: LoadedModel) -> None:
    Image.fromarray(np.full((8, 8), 30_001, np.uint16)).save(tmp_path / "deep.tif")
    run_batch([tmp_path / "deep.tif"], UpscaleOptions(out_dir=str(tmp_path / "out")), rgb_model)
    assert (tmp_path / "out" / "deep_x4.png").read_bytes()[24] == 16


def test_an_animation_is_upscaled_with_a_first_frame_only_warning(tmp_path: Path, rgb_model: LoadedModel) -> None:
    frames = [Image.fromarray(noise(8, 8, seed=i)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    events = run_batch([tmp_path / "anim.gif"], UpscaleOptions(out_dir=str(tmp_path / "out")), rgb_model)
    done = [e for e in events if isinstance(e, ItemDone)][0]
    assert done.warnings == ("animated (3 frames): first frame only",)
    assert done.output_path == str(tmp_path / "out" / "anim_x4.png")


def test_a_png_written_as_it_is_made_equals_the_upscaled_image(tmp_path: Path, rgb_model: LoadedModel) -> None:
    pixels = noise(45, 70)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    run_batch([tmp_path / "a.png"], UpscaleOptions(out_dir=str(tmp_path / "out"), tile=16), rgb_model)
    expected = Upscaler(rgb_model, "cpu", tile=16).upscale(pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "a_x4.png")), expected)


def test_the_blocked_layout_network_gives_the_model_s_output(rgb_model: LoadedModel) -> None:
    """On a CPU the compact generator's body runs in oneDNN's blocked layout: same result, other kernels."""
    network, layout = network_for(torch.device("cpu"), torch.float32, rgb_model)
    assert network is not rgb_model.module and layout == torch.contiguous_format
    x = torch.rand(1, 3, 20, 28)
    with torch.inference_mode():
        torch.testing.assert_close(network(x), rgb_model.module(x), atol=1e-5, rtol=1e-5)
    third_party = LoadedModel(torch.nn.Sequential(rgb_model.module), 4, 3, (0.0, 1.0), "third", "spandrel", False,
                              False)
    assert network_for(torch.device("cpu"), torch.float32, third_party) == (third_party.module,
                                                                           torch.contiguous_format)
