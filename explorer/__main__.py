"""``python -m explorer`` runs the command line (see `explorer.cli`)."""

import sys

from explorer.cli import main

sys.exit(main())
