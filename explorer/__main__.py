"""``python -m explorer`` runs the command line (see `explorer.cli`)."""

import sys

try:
    from explorer.cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: no traceback, the shell's status for it
    sys.exit(130)

sys.exit(main())
