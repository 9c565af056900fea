"""serkit's version: one place (pyproject.toml reads it too), importable from every layer."""

__version__ = "0.3.0"
