"""`python -m depslim` runs the CLI."""

from depslim.memo import main

if __name__ == "__main__":
    main()
