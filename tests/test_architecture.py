"""The layering of docs/architecture.md, enforced with import-linter contracts (.importlinter).

* phantoms import no science package (truth never comes from the code under test);
* the numerical packages never import cli/, pipeline/ or report/;
* report/ never imports cli/, pipeline/, workflow/ or store/; cli > workflow > pipeline > report;
* dicom_export/ never imports store/, workflow/, pipeline/, report/ or cli/;
* no import cycle between the packages of tumorboard.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

importlinter_cli = pytest.importorskip("importlinter.cli")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"


def _lint(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = importlinter_cli.lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    return code, capsys.readouterr().out


def test_every_contract_is_kept(capsys):
    code, out = _lint(CONFIG, capsys)
    assert code == 0, out
    for name in (
        "phantoms-independent",
        "numerics-below-faces",
        "report-below-faces",
        "dicom-export-below-workflow",
        "faces-layered",
        "no-package-cycles",
    ):
        assert f"[importlinter:contract:{name}]" in CONFIG.read_text(encoding="utf-8")
    assert "6 kept, 0 broken" in out


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _config_for(tmp_path: Path, contract: str) -> Path:
    """The repository's contract ``contract``, pointed at the synthetic package ``tumorfake``."""
    text = CONFIG.read_text(encoding="utf-8").replace("tumorboard", "tumorfake")
    sections = text.split("\n[")
    wanted = ("importlinter]", f"importlinter:contract:{contract}]")
    kept = [sections[0]] + [s for s in sections[1:] if s.startswith(wanted)]
    config = tmp_path / "contracts.ini"
    config.write_text("\n[".join(kept), encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("contract", "files"),
    [
        # the cycle this issue removed: pipeline -> cli (write_json), report -> pipeline
        (
            "no-package-cycles",
            {
                "cli/__init__.py": "import tumorfake.pipeline\n",
                "pipeline/__init__.py": "import tumorfake.cli\n",
            },
        ),
        ("faces-layered", {"report/__init__.py": "import tumorfake.pipeline\n"}),
        ("phantoms-independent", {"phantoms/__init__.py": "import tumorfake.dwi\n"}),
        ("numerics-below-faces", {"dce/__init__.py": "import tumorfake.report\n"}),
        ("report-below-faces", {"report/__init__.py": "import tumorfake.cli\n"}),
        ("faces-layered", {"pipeline/__init__.py": "import tumorfake.workflow\n"}),
        ("report-below-faces", {"report/__init__.py": "import tumorfake.store\n"}),
        ("numerics-below-faces", {"criteria/__init__.py": "import tumorfake.workflow\n"}),
        ("dicom-export-below-workflow", {"dicom_export/__init__.py": "import tumorfake.store\n"}),
        ("dicom-export-below-workflow", {"dicom_export/a.py": "import tumorfake.workflow\n"}),
        # the reading room is a face beside cli: cli may import it, it may not import cli
        ("faces-layered", {"web/__init__.py": "import tumorfake.cli\n"}),
        ("faces-layered", {"workflow/__init__.py": "import tumorfake.web\n"}),
        ("numerics-below-faces", {"segment/__init__.py": "import tumorfake.web\n"}),
    ],
)
def test_each_contract_breaks_on_a_forbidden_import(tmp_path, monkeypatch, capsys, contract, files):
    packages = (
        "cli",
        "pipeline",
        "report",
        "phantoms",
        "imaging",
        "dwi",
        "dce",
        "pet",
        "segment",
        "lesions",
        "criteria",
        "guide",
        "radiomics",
        "workflow",
        "store",
        "dicom_export",
        "statistics",
        "web",
    )
    root = tmp_path / "src"
    _package(root, {"tumorfake/__init__.py": ""})
    _package(root, {f"tumorfake/{p}/__init__.py": "" for p in packages})
    _package(root, {f"tumorfake/{name}": text for name, text in files.items()})
    monkeypatch.syspath_prepend(str(root))
    for module in [m for m in sys.modules if m.startswith("tumorfake")]:
        monkeypatch.delitem(sys.modules, module)
    code, out = _lint(_config_for(tmp_path, contract), capsys)
    assert code != 0, out
    assert "BROKEN" in out
