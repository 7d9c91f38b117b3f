"""Cut the bundled sample set (resources/samples/) from the TRAIN photos and write resources/LICENSES.md.

Each photo is first shrunk so its short side is SHORT_SIDE px: that averages away JPEG and sensor
noise and packs more structure into a crop, so a one-minute CPU run sees edges and texture rather
than blur. One CROP x CROP crop is then taken where the photo has the most gradient energy, and
the COUNT most detailed crops are kept (one per photo, so the set stays varied). Only photos whose
licence allows redistribution with attribution are used.

    python scripts/make_sample_set.py [--manifest data/photos/manifest.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.io.atomic import atomic_write  # noqa: E402
from engine.io.images import read_pixels  # noqa: E402
from engine.scoring.detail import most_detailed_box  # noqa: E402

SHORT_SIDE = 1000
CROP = 384  # a multiple of 4 and 32, so x2/x4 LR sizes and patch grids divide evenly
COUNT = 32
JPEG_QUALITY = 93
# Licences that allow bundling a modified crop with attribution (GFDL needs its full text shipped: avoided).
REDISTRIBUTABLE = ("CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "GPL-2+", "Public Domain")
SAMPLES = ROOT / "resources" / "samples"
LICENSES = ROOT / "resources" / "LICENSES.md"


@dataclass(frozen=True)
class Crop:
    """A detailed square of a shrunk photo, with the manifest entry it came from."""

    image: Image.Image
    box: tuple[int, int, int, int]
    detail: float
    photo: dict[str, object]


def shrink(image: Image.Image) -> Image.Image:
    """Resize (antialiased) so the short side is SHORT_SIDE; smaller photos are left as they are."""
    factor = SHORT_SIDE / min(image.size)
    if factor >= 1:
        return image
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def most_detailed_crop(image: Image.Image, photo: dict[str, object]) -> Crop:
    box, detail = most_detailed_box(np.asarray(image.convert("L"), dtype=np.float64) / 255.0, CROP)
    return Crop(image.crop(box), box, detail, photo)


def candidate_crops(manifest: Path) -> list[Crop]:
    photos = json.loads(manifest.read_text(encoding="utf-8"))["photos"]
    crops = []
    for photo in photos:
        if photo["split"] != "train" or not str(photo["licence"]).startswith(REDISTRIBUTABLE):
            continue
        image = shrink(Image.fromarray(read_pixels(manifest.parent / str(photo["file"]), 3)))
        if min(image.size) >= CROP:
            crops.append(most_detailed_crop(image, photo))
    return crops


def licence_table(rows: list[tuple[str, Crop]]) -> str:
    lines = ["| file | source package | source file | author / copyright | licence | crop (of the photo shrunk "
             f"to a {SHORT_SIDE}-px short side) |", "|---|---|---|---|---|---|"]
    for name, crop in rows:
        p = crop.photo
        author = str(p["author"]).replace("|", "/")
        lines.append(f"| {name} | {p['package']} | {p['source']} | {author} | {p['licence']} | {crop.box} |")
    return "\n".join(lines)


LICENSES_TEMPLATE = """# Licences of bundled files

## Sample images (resources/samples/)

Crops of photographs from Debian packages, made by `scripts/make_sample_set.py` from the training
split of `scripts/prepare_photos.py` (never from its validation photos). Each crop is a modified
version of the named photo: the photo was resized and cropped, then saved as JPEG. Authors and
licences are as stated in the package's `/usr/share/doc/<package>/copyright` (for
plasma-workspace-wallpapers also the wallpaper's `metadata.json`; for palapeli-data the puzzle's
`.desktop` file, which names the Wikimedia Commons page). CC licences: https://creativecommons.org/licenses/
(BY = attribution, SA = share-alike: these crops are offered under the same licence as their photo).
GPL-2+: https://www.gnu.org/licenses/old-licenses/gpl-2.0.html

{table}

## Shipped models (resources/models/)

`default-x4.safetensors` and `faithful-x4.safetensors` are generators trained by this project
(SRGAN Studio, MIT) on the training photos listed in `data/photos/manifest.json`, which
`scripts/install_training_photos.sh` recreates from the same Debian packages. The weights are learned
from those photos and contain none of them; the training configuration and data description are
stored in each file's metadata.
"""


def write_sample_set(crops: list[Crop]) -> list[tuple[str, Crop]]:
    """Save the crops as sample_NN.jpg, then remove samples of an earlier, larger set; return (name, crop)."""
    SAMPLES.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, crop in enumerate(crops, start=1):
        name = f"sample_{number:02d}.jpg"
        atomic_write(SAMPLES / name, lambda tmp, c=crop: c.image.save(
            tmp, format="JPEG", quality=JPEG_QUALITY, subsampling=0))
        rows.append((name, crop))
    current = {name for name, _ in rows}
    for stale in SAMPLES.glob("sample_*.jpg"):
        if stale.name not in current:
            stale.unlink()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "photos" / "manifest.json")
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        print(f"error: {args.manifest} not found; run scripts/install_training_photos.sh first", file=sys.stderr)
        return 1
    crops = candidate_crops(args.manifest)
    if len(crops) < COUNT:
        print(f"error: only {len(crops)} redistributable train photos, need {COUNT}", file=sys.stderr)
        return 1
    chosen = sorted(sorted(crops, key=lambda c: -c.detail)[:COUNT], key=lambda c: str(c.photo["file"]))
    rows = write_sample_set(chosen)
    atomic_write(LICENSES, lambda tmp: tmp.write_text(
        LICENSES_TEMPLATE.format(table=licence_table(rows)), encoding="utf-8"))
    total = sum((SAMPLES / name).stat().st_size for name, _ in rows)
    print(f"{len(rows)} crops of {CROP}x{CROP} ({total / 1e6:.1f} MB) in {SAMPLES}; "
          f"least detailed kept {min(c.detail for c in chosen):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
