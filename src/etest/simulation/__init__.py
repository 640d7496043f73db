"""The ``etest simulate`` command: bank and config files, the simulation run, its JSON and PNG.

The psychometrics live in :mod:`etest.irt` (:func:`etest.irt.simulate`); this package is the glue
(files, Typer, Rich, matplotlib). Register the command on the main CLI with::

    from etest.simulation.cli import simulate_command
    cli.command("simulate")(simulate_command)
"""

from etest.simulation.bankfile import (
    BankFileError,
    load_bank,
    load_config,
    parse_bank,
    parse_config,
)

__all__ = ["BankFileError", "load_bank", "load_config", "parse_bank", "parse_config"]
