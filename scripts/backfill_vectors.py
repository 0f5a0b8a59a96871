"""The seed's backfill entry point, by its path and with its flags: `clippy backfill` (the
code is app/commands/backfill.py in the installed package)."""

from app.commands.backfill import cli

if __name__ == "__main__":
    cli()
