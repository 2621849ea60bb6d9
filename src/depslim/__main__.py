"""`python -m depslim` runs the CLI."""

from depslim.entry import main

if __name__ == "__main__":
    main()
