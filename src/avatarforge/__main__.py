"""``python -m avatarforge ...``: the same as the ``avatarforge`` command."""

import sys

from avatarforge.cli.main import main

sys.exit(main())
