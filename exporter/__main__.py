"""Entry point for ``python -m exporter``."""

from exporter.commands.cli import main

raise SystemExit(main())
