"""The layering contracts of pyproject.toml hold: data flows request → blueprint → web helpers
→ domain → models, no blueprint imports another, the domain reads no request state."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_contract_breaks_when_a_blueprint_imports_another(tmp_path):
    """The contracts are not vacuous: a progress view importing the returns blueprint fails."""
    probe = ROOT / "fleet" / "progress" / "_layer_probe.py"
    probe.write_text("from ..returns import views  # noqa: F401\n")
    try:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert "No blueprint imports another BROKEN" in result.stdout
