"""Guided remediation: the pull request that fixes a repository's leaks."""
