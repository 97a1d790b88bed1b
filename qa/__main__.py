"""`python -m qa …` runs the `qa` command line, as the console script does."""

from qa.cli import main

main()
