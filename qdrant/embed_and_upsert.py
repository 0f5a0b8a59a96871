"""The seed's ingestion entry point, by its path and with its flags: `clippy ingest` (the
code is app/commands/ingest.py in the installed package)."""

from app.commands.ingest import cli

if __name__ == "__main__":
    cli()
