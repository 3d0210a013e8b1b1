"""``python -m sklearn_elm.benchmark``: the same command as ``sklearn-elm``."""

import sys

from ._cli import main

sys.exit(main())
