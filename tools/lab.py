"""Start JupyterLab for the course: on 127.0.0.1 only, always behind a fresh token.

``make lab`` runs this. The token is passed on JupyterLab's own command line inside
this process, so a user or system Jupyter config that empties the token (or opens
the server to other addresses) cannot switch authentication off, and the token never
shows in ``ps``. Jupyter hides a token it did not generate itself, so the full
address is printed here.

JupyterLab reads its app-level settings defaults from ``tools/lab_settings/overrides.json``
(``--LabApp.app_settings_dir``), which answers "Never" to the first-run question "Would you
like to get notified about official Jupyter news?": the course runs offline and a learner's
first screen should be the lesson. A learner's own settings still win over these defaults.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

# overrides.json: JupyterLab's app-level settings defaults for the course (no news pop-up)
LAB_SETTINGS = Path(__file__).resolve().parent / "lab_settings"


def lab_arguments(port: int, root: str, token: str, open_path: str | None) -> list[str]:
    """JupyterLab's command line for the course (also used by the browser tests)."""
    args = [
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.password=",
        f"--LabApp.app_settings_dir={LAB_SETTINGS}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # JupyterLab refuses root without it (CI, containers)
    if open_path:
        args.append(open_path)
    return args


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--root", default=os.getcwd(), help="folder the server shows")
    parser.add_argument("notebook", nargs="?", default="notebooks/00_start_here.ipynb")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port={args.port} must be between 1 and 65535")
    token = secrets.token_hex(24)
    print(
        f"\n    The course: http://127.0.0.1:{args.port}/lab/tree/{args.notebook}?token={token}\n",
        flush=True,
    )
    from jupyterlab.labapp import LabApp

    sys.argv = [sys.argv[0]]  # LabApp reads only the list below
    LabApp.launch_instance(argv=lab_arguments(args.port, args.root, token, args.notebook))


if __name__ == "__main__":
    main()
