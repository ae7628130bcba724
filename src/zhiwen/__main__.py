"""`python -m zhiwen` runs the command line."""

from zhiwen.cli import main

main()
