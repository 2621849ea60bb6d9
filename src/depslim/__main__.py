"""`python -m depslim` runs the CLI."""

from depslim.cli import main

if __name__ == "__main__":
    main()
