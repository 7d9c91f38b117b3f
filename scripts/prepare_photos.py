"""Collect the photographs of five Debian wallpaper packages into data/photos/{train,val}/.

The packages also ship abstract art, renders and several resolutions of one picture; only the
photographs listed below (chosen by looking at them) are taken, each at its largest size, so the
validation split never shares a picture with training. Every 6th photo in (package, name) order
goes to val/, and data/photos/manifest.json records where each copy came from and its licence.

    python scripts/prepare_photos.py [--out data/photos] [--max-side 2048]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.io.atomic import atomic_write  # noqa: E402
from engine.io.images import read_pixels, upright_size  # noqa: E402

VAL_EVERY = 6  # every 6th photo in sorted order is held out
DOC = Path("/usr/share/doc")
LOMIRI = Path("/usr/share/backgrounds")
MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
PLASMA = Path("/usr/share/wallpapers")
PALAPELI = Path("/usr/share/palapeli/collection")

# The photographs, by name; the other files of these packages are drawings, renders or gradients.
LOMIRI_16 = ("Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
             "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
             "analogpattern_by_Peter_Nerlich", "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi",
             "greentock_by_Peter_Nerlich", "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
             "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi")
LOMIRI_20 = ("Kleiber_by_Lukas_Baubkus",)
MATE = ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
        "TwoWings", "Wood", "YellowFlower")
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                 "Kite", "OneStandsOut", "Path", "summer_1am")
PALAPELI_PHOTOS = ("castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee",
                   "panther-chameleon-female")


@dataclass(frozen=True)
class Photo:
    """One source photograph and who may be credited for it."""

    package: str
    name: str
    source: str
    author: str
    licence: str


def dep5_stanzas(package: str) -> dict[str, tuple[str, str]]:
    """Map each file pattern of a machine-readable debian/copyright to (copyright, licence)."""
    text = (DOC / package / "copyright").read_text(encoding="utf-8")
    result: dict[str, tuple[str, str]] = {}
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^(Files|Copyright|License):[ \t]*(.*(?:\n[ \t]+\S.*)*)", stanza, re.M))
        if "Files" in fields and "License" in fields:
            holder = " ".join(fields.get("Copyright", "").split())
            for pattern in fields["Files"].split():
                result[pattern] = (holder, fields["License"].splitlines()[0].strip())
    return result


def lomiri_photos(package: str, release: str, names: tuple[str, ...]) -> list[Photo]:
    stanzas = dep5_stanzas(package)
    return [Photo(package, f"{name}.jpg", str(LOMIRI / f"{name}.jpg"), *stanzas[f"{release}/{name}.jpg"])
            for name in names]


def mate_photos() -> list[Photo]:
    stanzas = dep5_stanzas("mate-backgrounds")
    return [Photo("mate-backgrounds", f"{name}.jpg", str(MATE_NATURE / f"{name}.jpg"),
                  *stanzas[f"nature/{name}.jpg"]) for name in MATE]


def largest_image(folder: Path) -> Path:
    """The biggest of the WxH.ext renditions of one wallpaper."""
    def pixels(path: Path) -> int:
        width, height = re.match(r"(\d+)x(\d+)", path.stem).groups()
        return int(width) * int(height)
    return max(folder.glob("*x*.*"), key=pixels)


def plasma_photos() -> list[Photo]:
    """Authors come from each wallpaper's metadata.json; the package's copyright file says GPL-2+ for all."""
    photos = []
    for name in PLASMA_PHOTOS:
        plugin = json.loads((PLASMA / name / "metadata.json").read_text(encoding="utf-8"))["KPlugin"]
        image = largest_image(PLASMA / name / "contents" / "images")
        authors = ", ".join(a["Name"] for a in plugin["Authors"])
        licence = f"GPL-2+ (debian/copyright); {plugin['License']} (metadata.json)"
        photos.append(Photo("plasma-workspace-wallpapers", f"{name}{image.suffix}", str(image), authors, licence))
    return photos


def palapeli_photos() -> list[Photo]:
    """Palapeli's puzzle photos come from Wikimedia Commons; each .desktop file names author and licence."""
    photos = []
    for name in PALAPELI_PHOTOS:
        desktop = (PALAPELI / f"{name}.desktop").read_text(encoding="utf-8")
        info = dict(re.findall(r"^X-KDE-PluginInfo-(Author|License|Website)=(.*)$", desktop, re.M))
        photos.append(Photo("palapeli-data", f"{name}.jpg", str(PALAPELI / f"{name}.jpg"), info["Author"],
                            f"{info['License']} ({info['Website']})"))
    return photos


def all_photos() -> list[Photo]:
    photos = (lomiri_photos("lomiri-wallpapers-16.04", "16.04", LOMIRI_16)
              + lomiri_photos("lomiri-wallpapers-20.04", "20.04", LOMIRI_20)
              + mate_photos() + plasma_photos() + palapeli_photos())
    return sorted(photos, key=lambda p: (p.package, p.name))


def split_of(index: int) -> str:
    return "val" if index % VAL_EVERY == VAL_EVERY - 1 else "train"


def write_downscaled(source: Path, tmp: Path, max_side: int) -> None:
    """An RGB PNG whose long side is at most `max_side` (Lanczos): the shipped models train on DIV2K-like
    2K images, where a 128-pixel crop holds more detail than in a soft 15-megapixel original."""
    image = Image.fromarray(read_pixels(source, 3))
    factor = max_side / max(image.size)
    if factor < 1:
        image = image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS)
    image.save(tmp, format="PNG")


def collect(out: Path, max_side: int | None = None) -> list[dict[str, object]]:
    """Copy every photo into out/{train,val}/ (atomically, skipping existing copies) and describe it;
    with `max_side`, write downscaled PNGs instead of copies."""
    entries = []
    for index, photo in enumerate(all_photos()):
        split = split_of(index)
        source = Path(photo.source)
        name = f"{photo.package}_{photo.name}"
        target = out / split / (name if max_side is None else f"{Path(name).stem}.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        if max_side is not None:
            if not target.exists():
                atomic_write(target, lambda tmp, src=source: write_downscaled(src, tmp, max_side))
        elif not target.exists() or target.stat().st_size != source.stat().st_size:
            atomic_write(target, lambda tmp, src=source: shutil.copyfile(src, tmp))
        size = list(upright_size(target))
        entries.append({"file": f"{split}/{target.name}", "split": split, "size": size, **asdict(photo)})
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "photos")
    parser.add_argument("--max-side", type=int, help="downscale each photo to this long side (PNG)")
    args = parser.parse_args(argv)
    try:
        entries = collect(args.out, args.max_side)
    except (OSError, KeyError) as exc:
        print(f"error: a wallpaper package is missing or changed ({exc}); run scripts/install_training_photos.sh",
              file=sys.stderr)
        return 1
    manifest = {"val_rule": f"every {VAL_EVERY}th photo in (package, name) order", "photos": entries}
    atomic_write(args.out / "manifest.json",
                 lambda tmp: tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8"))
    counts = {s: sum(e["split"] == s for e in entries) for s in ("train", "val")}
    megapixels = sum(e["size"][0] * e["size"][1] for e in entries) / 1e6
    print(f"{len(entries)} photos ({megapixels:.0f} MP): {counts['train']} train, {counts['val']} val -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
