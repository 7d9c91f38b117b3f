"""Copy a trained generator into resources/models/ with the record a user needs to trust it: its
held-out PSNR/SSIM against bicubic, the data it learned from and the exact command that trained it.

    python scripts/ship_model.py runs/faithful-x4/generator.safetensors faithful-x4 \\
        --val data/photos2k/val --data "..." --command "python -m engine train ..." \\
        --description "what the model is for, in one line (the window's model picker shows it)" \\
        [--degrade photo]   # also score (and store) the held-out set degraded as real photos are
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.data.degradations import WEB_PHOTOS  # noqa: E402
from engine.scoring.pairs import degraded_pairs, describe_degradation  # noqa: E402
from engine.scoring.evaluation import (ImageScore, SuperResolve, describe, load_upscaler, mean_score,  # noqa: E402
                               score_folder, score_pair)
from engine.models.export import export_generator, load_generator  # noqa: E402

STORED_BY_EXPORT = ("format", "format_version", "arch", "scale", "in_channels", "value_range")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an exported generator (.safetensors)")
    parser.add_argument("name", help="file stem in resources/models, e.g. default-x4")
    parser.add_argument("--val", type=Path, required=True, help="held-out HR images never trained on")
    parser.add_argument("--data", required=True, help="what the model was trained on")
    parser.add_argument("--command", required=True, help="the command(s) that trained it")
    parser.add_argument("--description", required=True, help="one line: what the model is for")
    parser.add_argument("--degrade", choices=tuple(WEB_PHOTOS), help="also score the held-out images degraded this way "
                        "(bench/quality.py's --degrade), for a model made for real photos")
    args = parser.parse_args(argv)

    module, meta = load_generator(args.source)
    upscaler = load_upscaler(args.source, device="cpu")
    scale = upscaler.model.scale
    scores = [s for s in score_folder(upscaler.upscale, scale, args.val) if isinstance(s, ImageScore)]
    held_out = mean_score(scores)
    extra = {key: value for key, value in meta.items() if key not in STORED_BY_EXPORT}
    extra.update(name=args.name, description=args.description, data=args.data, training_command=args.command,
                 validation={"psnr": held_out.psnr, "ssim": held_out.ssim, "bicubic_psnr": held_out.bicubic_psnr,
                             "bicubic_ssim": held_out.bicubic_ssim, "images": len(scores),
                             "folder": args.val.as_posix(), "measure": describe(scale, None)})
    if args.degrade:
        degraded_each = degraded_scores(upscaler.upscale, scale, args.val, args.degrade)
        degraded = mean_score(degraded_each)
        extra[f"validation_{args.degrade}"] = {
            "psnr": degraded.psnr, "ssim": degraded.ssim, "bicubic_psnr": degraded.bicubic_psnr,
            "bicubic_ssim": degraded.bicubic_ssim, "images": len(degraded_each), "folder": args.val.as_posix(),
            "measure": f"whole images; {describe_degradation(args.degrade, 'medium', 0, scale)}"}
        print(f"degraded ({args.degrade}): PSNR {degraded.psnr:.2f} dB (bicubic {degraded.bicubic_psnr:.2f}), "
              f"SSIM {degraded.ssim:.4f} (bicubic {degraded.bicubic_ssim:.4f})")
    target = ROOT / "resources" / "models" / f"{args.name}.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    export_generator(target, load_file(str(args.source)), module.spec(), module.value_range, extra=extra)
    print(f"{target.relative_to(ROOT)}: held-out PSNR {held_out.psnr:.2f} dB (bicubic {held_out.bicubic_psnr:.2f}), "
          f"SSIM {held_out.ssim:.4f} (bicubic {held_out.bicubic_ssim:.4f}) on {len(scores)} images")
    return 0


def degraded_scores(upscale: SuperResolve, scale: int, folder: Path, how: str) -> list[ImageScore]:
    """Each whole held-out image's score, degraded `how` (seed 0, as bench/quality.py's tables)."""
    return [score_pair(upscale, pair.name, pair.hr, pair.lr, scale)
            for pair in degraded_pairs(folder, scale, None, None, how, "medium", 0)]


if __name__ == "__main__":
    sys.exit(main())
