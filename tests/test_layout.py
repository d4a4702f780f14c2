"""The layout's rules: arrows point one way between the sub-packages, and restore.inpaint stays the function."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
RESTORE = ROOT / "restore"
TOP = {"restore.cli", "restore.api", "restore.runner"}  # what only the product's entry points use


def imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


def modules(sub: str) -> list[Path]:
    return sorted((RESTORE / sub).rglob("*.py"))


@pytest.mark.parametrize("sub, banned", [
    ("inpainting", ("restore.io", "restore.eval", "restore.hub", *TOP)),
    ("io", ("restore.inpainting", "restore.eval", "restore.hub", *TOP)),
    ("eval", TOP),
])
def test_sub_packages_import_one_way(sub, banned):
    for path in modules(sub):
        bad = sorted(m for m in imports(path) if any(m == b or m.startswith(b + ".") for b in banned))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_restore_never_imports_the_trainer():
    for path in sorted(RESTORE.rglob("*.py")):
        assert not any(m == "trainer" or m.startswith("trainer.") for m in imports(path)), path


def test_restore_inpaint_stays_the_function_once_the_sub_packages_are_imported():
    code = ("import restore.inpainting.pipeline, restore.io.files, restore.eval.paper, restore.api\n"
            "import restore\n"
            "from restore import inpaint\n"
            "assert callable(restore.inpaint) and inpaint is restore.inpaint, restore.inpaint\n"
            "assert inpaint.__module__ == 'restore.api'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
