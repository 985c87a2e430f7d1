"""`python -m handlers` is the `jdebug` command."""

import sys

from handlers.cli import main

sys.exit(main())
