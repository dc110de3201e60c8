"""Migrators: where found secrets should go."""
