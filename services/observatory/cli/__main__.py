"""`python -m observatory.cli`."""

from observatory.cli import main

main()
