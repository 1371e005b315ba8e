"""``python -m devkit``: the development CLI (see :mod:`devkit.cli`)."""

from devkit.cli import main

raise SystemExit(main())
