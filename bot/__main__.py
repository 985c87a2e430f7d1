"""`python -m bot` is the `jdebug` command."""

import sys

from bot.cli import main

sys.exit(main())
