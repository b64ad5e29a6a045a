"""`python -m splitlab` runs the command-line interface."""

from splitlab.cli.main import main

if __name__ == "__main__":
    main()
