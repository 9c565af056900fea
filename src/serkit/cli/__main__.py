"""`python -m serkit.cli`: the same entry point as the `serkit` command."""

import sys

from serkit.cli import main

sys.exit(main())
