"""``python -m verify``: the offline verifier CLI (verify/cli.py)."""

import sys

from verify.cli import main

sys.exit(main())
