"""The `chargeback` command: a thin shell that mounts each stage's subcommands."""
