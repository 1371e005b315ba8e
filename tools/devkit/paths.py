"""Where things are: the repository's files the devkit reads and writes (bottom layer).

Every path is absolute and derived from this file's location, so the devkit works from any
working directory. Nothing here imports another devkit module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = [
    "AUTHORIZER_SRC",
    "BACKEND_SRC",
    "EVENTS_DIR",
    "IDP_CLIENTS_FILE",
    "REPO_ROOT",
    "SAMCONFIG",
    "TEMPLATE",
    "TOOLS_DIR",
    "shown_path",
    "state_dir",
]

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
TOOLS_DIR: Final = REPO_ROOT / "tools"
#: The SAM template the emulator serves and ``invoke`` reads functions from.
TEMPLATE: Final = REPO_ROOT / "template.yaml"
SAMCONFIG: Final = REPO_ROOT / "samconfig.toml"
#: ``sam local invoke`` fixtures, ``env.json`` and expected answers (``make fixtures``).
EVENTS_DIR: Final = REPO_ROOT / "events"
AUTHORIZER_SRC: Final = REPO_ROOT / "src" / "authorizer"
BACKEND_SRC: Final = REPO_ROOT / "src" / "backend"
#: The local identity provider's confidential clients (ids, secrets, scopes).
IDP_CLIENTS_FILE: Final = Path(__file__).resolve().with_name("idp-clients.json")


def state_dir() -> Path:
    """Where ``demo`` writes its log and ``serve`` its state (``DEVKIT_STATE_DIR`` overrides)."""
    return Path(os.environ.get("DEVKIT_STATE_DIR") or REPO_ROOT / ".demo")


def shown_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (what ``make`` users see)."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
