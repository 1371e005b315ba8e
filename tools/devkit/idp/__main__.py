"""``python -m devkit.idp``: the local identity provider in the foreground."""

from devkit.idp.command import main

raise SystemExit(main())
