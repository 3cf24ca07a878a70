"""``python -m desire_bp.cli``: the ``desire-bp`` command."""

import sys

from . import main

sys.exit(main())
