"""Subcommands beyond `scan`, `baseline` and `rules`, one module each.

Each module defines one click command or group and is registered by name in
`leakguard.cli.LAZY_COMMANDS`; shared options and report rendering come from
`leakguard.cli` (`scan_options`, `effective_config`, `report`, `pass_state`).
"""
