"""``python -m nudge_integrations``: the ``nudge`` command line."""

from nudge_integrations.cli import main

raise SystemExit(main(prog="python -m nudge_integrations"))
