"""Entry point for ``python -m ris_agent``."""

from ris_agent.main import main

raise SystemExit(main())
