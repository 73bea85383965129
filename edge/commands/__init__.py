"""One module per `edge` subcommand (see edge.commands.cli)."""
