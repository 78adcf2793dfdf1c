"""`python -m homei` is the `homei` command."""

from homei.cli import main

raise SystemExit(main())
