"""Where the project's data directories (sql/, playbooks/) live, in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    checkout = _PKG.parent / name
    if checkout.is_dir():
        return checkout
    return _PKG / "_data" / name


SQL_DIR = _data_dir("sql")
PLAYBOOKS_DIR = _data_dir("playbooks")
REPO_ROOT = _PKG.parent
