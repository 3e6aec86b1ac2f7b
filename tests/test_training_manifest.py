"""training/: each run folder's manifest matches the files it names, and nothing in it is
training state that belongs outside git."""
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = sorted(p.parent for p in (ROOT / "training").glob("*/manifest.json"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_manifest_hashes_match(run):
    manifest = json.loads((run / "manifest.json").read_text())
    if manifest["latest_export"].get("kept_in_git", True):  # else only its hash is recorded
        export = run / manifest["latest_export"]["file"]
        assert export.stat().st_size < 2 * 2**20, "a committed export must stay under 2 MB"
        assert _sha256(export) == manifest["latest_export"]["sha256"]
    shipped = ROOT / manifest["shipped"]["file"]
    assert _sha256(shipped) == manifest["shipped"]["sha256"], f"{shipped.name} changed: update {run.name}/manifest.json"


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_log_has_no_absolute_paths(run):
    text = (run / "log.jsonl").read_text()
    assert '"/' not in text


def test_no_training_state_tracked():
    try:
        tracked = subprocess.run(["git", "ls-files", "training"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert RUNS, "no run manifests found"
    assert not [f for f in tracked if f.endswith((".pt", ".pth", ".ckpt"))]
