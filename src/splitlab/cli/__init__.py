"""The command-line interface (``splitlab``, also ``python -m splitlab``)."""
