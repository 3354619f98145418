"""`python -m flake8_nograd` is the `flake8-nograd` command."""
from .cli import main

raise SystemExit(main())
