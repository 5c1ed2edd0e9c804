"""``python -m token_exchange_enabler``: the operator command line (see :mod:`.cli`)."""

import sys

from .cli import main

sys.exit(main())
