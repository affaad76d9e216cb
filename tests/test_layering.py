"""The house style's layering: only credit/web imports Flask; rules, services, models and the scheduler
run without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def core_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "credit").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "web" in parts:
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_core_packages_do_not_import_flask():
    modules = core_modules()
    assert {"credit.services.firms", "credit.models.audit", "credit.uscc"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(','.join(sorted(n for n in sys.modules if n == 'flask' or n.startswith(('flask.', 'flask_')))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"flask imported outside credit.web: {result.stdout}"
