"""benchmarks/gpu.sh is prepared before any GPU is lent: its CPU mode (tiny sizes) must run
end to end here, so that a session lent a GPU for 15 minutes spends them measuring."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_the_gpu_benchmark_runs_in_its_cpu_mode_and_reports_every_system(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", "benchmarks/gpu.sh", "--cpu"], cwd=ROOT, env={**os.environ, "OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_speed.json").read_text())
    results = report["results"]
    for system in ("speecht5 reference", "speecht5 full", "speecht5 lora", "vits full", "vits lora"):
        assert results[system]["samples_per_second"] > 0, system
        assert results[system]["peak_memory_mb"] > 0, system
    # FLOPs are counted for the single-forward systems, and the utilisation is a fraction of the peak
    for system in ("speecht5 reference", "speecht5 full"):
        assert 0 < results[system]["mfu_vs_measured_peak"] < 1.5, system
    assert results["speecht5 full"]["flops_per_step"] == pytest.approx(results["speecht5 reference"]["flops_per_step"], rel=0.5)
    assert all(v > 0 for v in results["synthesis"]["rtf"].values())
    table = (tmp_path / "gpu_speed.md").read_text()
    assert "| speecht5 lora |" in table and "| vits full |" in table
