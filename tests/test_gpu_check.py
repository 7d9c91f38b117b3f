"""scripts/gpu_check.py on a CPU: its report writer, and its one-line exit where there is no CUDA."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from scripts import gpu_check

ROOT = Path(__file__).resolve().parents[1]


def test_the_report_lists_sections_their_time_and_what_they_skipped(tmp_path: Path) -> None:
    report = gpu_check.Report(tmp_path / "out", ["SRGAN Studio GPU check", "commit: abc"])
    gpu_check.run_section(report, "measured", 30, lambda section, until: section.add("default [gan]: 9.00 steps/s"))
    first = (tmp_path / "out" / "report.txt").read_text()  # written as soon as a section ends
    assert "== measured (0 s, cap 30 s)\n  default [gan]: 9.00 steps/s" in first

    def broken(section: gpu_check.Section, until: float) -> None:
        section.skip("scratch [pretrain]", "the presets' cap was spent")
        raise RuntimeError("CUDA error: an illegal memory access")

    gpu_check.run_section(report, "broken", 10, broken)
    gpu_check.run_section(report, "late", 0, lambda section, until: section.add("never"))
    text = report.path.read_text()
    assert text.startswith("SRGAN Studio GPU check\ncommit: abc\n\n== measured")
    assert "  FAILED: RuntimeError: CUDA error: an illegal memory access" in text
    assert "  skipped scratch [pretrain]: the presets' cap was spent" in text
    assert "== late (0 s)\n  skipped the whole section: the overall time budget was spent" in text
    assert "never" not in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.txt"]  # no temporary left


def test_each_section_may_use_what_the_later_ones_are_not_owed() -> None:
    budget = gpu_check.Budget(gpu_check.BUDGET / 2, scale=0.5)
    owed = {name: seconds / 2 for name, seconds in gpu_check.CAPS.items()}
    assert abs(budget.cap("machine") - owed["machine"]) < 1
    assert abs(budget.cap("upscale") - gpu_check.BUDGET / 2) < 1  # the last one gets all that is left
    budget.deadline = time.monotonic() + owed["upscale"] + owed["torchrun"] + 30
    assert 29 < budget.cap("presets") <= 30  # the early sections took longer: presets get the rest
    budget.deadline = time.monotonic() + 10
    assert budget.cap("tests") == 0


def test_every_preset_and_phase_is_measured() -> None:
    from engine.training.config import PRESETS

    runs = gpu_check.preset_runs()
    assert {run.preset for run in runs} == set(PRESETS)
    labels = [run.label(phase) for run in runs for phase in run.phases]
    assert "default [gan]" in labels and "scratch [pretrain]" in labels and "scratch [gan]" in labels
    assert "default precision=bf16 [gan]" in labels


def test_the_presets_share_their_time_and_the_last_ones_are_skipped_when_it_is_short() -> None:
    one, two = gpu_check.PresetRun("default", ("gan",)), gpu_check.PresetRun("scratch", ("pretrain", "gan"))
    assert gpu_check.phase_seconds([one, two], 1000, 10) == gpu_check.PRESET_SECONDS  # at most 60 s a preset
    assert gpu_check.phase_seconds([two, one], 1000, 10) == gpu_check.PRESET_SECONDS / 2
    assert gpu_check.phase_seconds([one, two], 80, 10) == 20  # (80 - 2 x 10) s over 3 phases
    assert gpu_check.phase_seconds([one, two], 20, 10) == 10  # only `one` fits: it has it all
    assert gpu_check.phase_seconds([two], 14, 10) == 0  # not even 5 s a phase: skipped


def test_psnr_of_upscales() -> None:
    picture = gpu_check.test_picture(40)
    assert picture.shape == (40, 40, 3) and picture.dtype.name == "uint8"
    assert gpu_check.psnr(picture, picture) == float("inf")
    shifted = picture.copy()
    shifted[0, 0, 0] ^= 1
    assert gpu_check.psnr(picture, shifted) > 70


def test_without_cuda_it_says_so_in_one_line_and_runs_nothing(tmp_path: Path) -> None:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "scripts/gpu_check.py", str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and "no CUDA GPU here" in result.stdout and "nothing was run" in result.stdout
    assert not out.exists()
