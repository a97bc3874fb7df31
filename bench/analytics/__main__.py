"""``python -m bench.analytics``: see :mod:`bench.analytics`."""

import sys

from bench.analytics import main

sys.exit(main())
