"""leakguard: find credentials leaked into container builds, and move them where they belong."""

__version__ = "0.1.0"
