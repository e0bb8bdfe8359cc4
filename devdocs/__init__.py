"""Documentation generated from the code (not shipped in the wheel).

- :mod:`.cli_reference` – docs/cli-reference.md from the three command lines
"""
