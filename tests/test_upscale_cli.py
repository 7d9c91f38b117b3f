"""`python -m engine upscale`: folders kept as trees, failures reported with exit codes, no overwrites."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.archs.networks import CompactGenerator
from engine.cli.main import main
from engine.models.export import export_generator


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = CompactGenerator(3, num_feat=8, num_conv=2, scale=4)
    return export_generator(tmp_path / "tiny.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))


def write_image(path: Path, size: tuple[int, int] = (12, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(path.name)).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_folder_is_upscaled_recursively_and_failures_reported(tmp_path: Path, model_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "top.png")
    write_image(photos / "trip" / "day1" / "beach.jpg")
    (photos / "trip" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (photos / "readme.txt").write_text("not a picture, skipped")
    out = tmp_path / "out"
    code = main(["upscale", str(photos), "--model", str(model_path), "--out", str(out), "--tile", "16"])
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "top_tiny_x4.png", "trip/day1/beach_tiny_x4.jpg"]
    assert Image.open(out / "trip" / "day1" / "beach_tiny_x4.jpg").size == (48, 40)
    assert f"failed: {photos / 'trip' / 'broken.png'}: " in captured.err
    assert "readme.txt" not in captured.err
    assert "upscaled 2 image(s), 1 failed" in captured.out


def test_all_good_exits_zero_with_target_width(tmp_path: Path, model_path: Path) -> None:
    image = write_image(tmp_path / "a.png", (20, 10))
    code = main(["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "out"),
                 "--width", "50", "--format", "webp"])
    assert code == 0
    assert Image.open(tmp_path / "out" / "a_tiny_x2.5.webp").size == (50, 25)


def test_existing_output_is_left_byte_identical_unless_overwrite(tmp_path: Path, model_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "a.png")
    existing = tmp_path / "out" / "a_tiny_x4.png"
    existing.parent.mkdir()
    existing.write_bytes(b"an earlier result")
    args = ["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    assert existing.read_bytes() == b"an earlier result"
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert Image.open(existing).size == (48, 40)


@pytest.mark.parametrize("extra,message", [
    (["--model", "no-such-model.pth"], "model not found"),
    (["--quality", "0"], "quality must be between 1 and 100"),
    (["--device", "cuda"] if not torch.cuda.is_available() else ["--tile", "4"], "error:"),
])
def test_bad_arguments_exit_two(tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str],
                                extra: list[str], message: str) -> None:
    image = write_image(tmp_path / "a.png")
    args = ["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "out"), *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unparseable_tile_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["upscale", str(tmp_path), "--tile", "big"])
    assert exit_info.value.code == 2


def digests(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_overwrite_never_writes_over_an_input(tmp_path: Path, model_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """a.png's result would be named a_tiny_x4.png, which is the other input: it gets a numbered name."""
    folder = tmp_path / "ovw"
    write_image(folder / "a.png")
    write_image(folder / "a_tiny_x4.png", (9, 7))
    inputs = digests(folder)
    code = main(["upscale", str(folder / "a.png"), str(folder / "a_tiny_x4.png"), "--model", str(model_path),
                 "--out", str(folder), "--overwrite"])
    assert code == 0 and "upscaled 2 image(s), 0 failed" in capsys.readouterr().out
    assert {name: data for name, data in digests(folder).items() if name in inputs} == inputs
    assert Image.open(folder / "a_tiny_x4_2.png").size == (48, 40)  # from a.png
    assert Image.open(folder / "a_tiny_x4_tiny_x4.png").size == (36, 28)  # from a_tiny_x4.png, the untouched input


def test_two_inputs_never_share_an_output(tmp_path: Path, model_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "good.png", (12, 10))
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "good.jpg")
    code = main(["upscale", str(tmp_path / "good.png"), str(tmp_path / "good.jpg"), "--model", str(model_path),
                 "--out", str(tmp_path / "out"), "--format", "png", "--overwrite"])
    assert code == 0 and "upscaled 2 image(s)" in capsys.readouterr().out
    assert Image.open(tmp_path / "out" / "good_tiny_x4.png").size == (48, 40)
    assert Image.open(tmp_path / "out" / "good_tiny_x4_2.png").size == (32, 24)


def test_results_can_go_into_the_input_folder(tmp_path: Path, model_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "imgs"
    for index in range(3):
        write_image(folder / f"p{index}.png")
    inputs = digests(folder)
    assert main(["upscale", str(folder), "--model", str(model_path), "--out", str(folder)]) == 0
    assert "upscaled 3 image(s), 0 failed" in capsys.readouterr().out
    after = digests(folder)
    assert {name: after[name] for name in inputs} == inputs
    assert sorted(set(after) - set(inputs)) == ["p0_tiny_x4.png", "p1_tiny_x4.png", "p2_tiny_x4.png"]


def test_an_animation_warns_first_frame_only_on_the_command_line(tmp_path: Path, model_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    frames = [Image.new("RGB", (8, 8), (80 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    code = main(["upscale", str(tmp_path / "anim.gif"), "--model", str(model_path), "--out", str(tmp_path / "out")])
    assert code == 0
    assert f"warning: {tmp_path / 'anim.gif'}: animated (3 frames): first frame only" in capsys.readouterr().err


def test_jpeg_results_are_written_as_they_are_made(tmp_path: Path, model_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """At the model's scale a JPEG streams like a PNG (the whole result is never held), and decodes as
    Pillow's whole-image encoding of the same result does."""
    import engine.upscaling.batch

    image = write_image(tmp_path / "a.png", (40, 70))
    assert main(["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "png"), "--tile",
                 "16"]) == 0

    def whole_image_save(*args: object, **kwargs: object) -> None:
        raise AssertionError("the JPEG was held whole")

    monkeypatch.setattr(engine.upscaling.batch, "save_image", whole_image_save)
    assert main(["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "jpg"), "--format",
                 "jpg", "--tile", "16"]) == 0
    whole = io.BytesIO()
    Image.open(tmp_path / "png" / "a_tiny_x4.png").save(whole, "JPEG", quality=95)  # Pillow, whole, as before
    with Image.open(tmp_path / "jpg" / "a_tiny_x4.jpg") as jpeg:
        assert jpeg.size == (160, 280) and np.array_equal(np.asarray(jpeg), np.asarray(Image.open(whole)))


@pytest.mark.parametrize(("fmt", "most"), [("jpg", 65535), ("webp", 16383)])
def test_a_result_too_large_for_its_format_says_the_limit(tmp_path: Path, model_path: Path, fmt: str, most: int,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "wide.png", (most // 4 + 1, 1))
    assert main(["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "out"),
                 "--format", fmt]) == 1
    assert (f"can be at most {most} pixels wide and high, and this result would be {(most // 4 + 1) * 4}x4: "
            "choose png" in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_a_size_beyond_the_memory_says_what_it_would_need(tmp_path: Path, model_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(tmp_path / "a.png", (100, 100))
    assert main(["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "out"),
                 "--width", "1000000"]) == 1
    err = capsys.readouterr().err
    assert "the result would be 1000000x1000000 pixels (1,000,000 megapixels) and needs about" in err
    assert "GB of memory to make, with" in err and "MemoryError" not in err


def test_a_large_colour_profile_is_kept(tmp_path: Path, model_path: Path) -> None:
    """A 2 MiB ICC profile is legal (Pillow's own limit is 1 MiB): read, and carried to the result."""
    icc = np.random.default_rng(0).integers(0, 256, 2 << 20, dtype=np.uint8).tobytes()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png", icc_profile=icc)
    assert main(["upscale", str(tmp_path / "a.png"), "--model", str(model_path), "--out", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "a_tiny_x4.png") as result:
        assert result.info["icc_profile"] == icc


def test_a_legal_long_result_name_is_written(tmp_path: Path, model_path: Path) -> None:
    """A 250-byte result name (the longest a file system takes is 255): temporary names stay short."""
    image = write_image(tmp_path / ("p" * 235 + ".png"))
    assert main(["upscale", str(image), "--model", str(model_path), "--out", str(tmp_path / "out")]) == 0
    assert [len(path.name) for path in (tmp_path / "out").iterdir()] == [235 + len("_tiny_x4.png")]
