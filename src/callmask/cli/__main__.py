"""`python -m callmask.cli`, as the tests and some deployments run the command."""

import sys

from callmask.cli import main

sys.exit(main())
