"""`python -m usersuite.cli`: how `serve --workers N` starts its workers."""

import sys

from usersuite.cli import main

sys.exit(main())
