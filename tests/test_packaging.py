"""Every source folder is a package in pyproject.toml, so `pip install .` (not only -e) ships it."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_folder_is_listed_as_a_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = {Path(folder) for folder in config["package-dir"].values()}
    assert set(config["packages"]) == set(config["package-dir"])
    for top in ("compiler", "runtime", "models"):
        for source in (ROOT / top).rglob("*.py"):
            folder = source.parent.relative_to(ROOT)
            assert folder in listed, f"{folder} holds Python sources but is not a package in pyproject.toml"
