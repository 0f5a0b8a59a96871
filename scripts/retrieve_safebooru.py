"""The seed's booru fetch, by its path and with its flags: `clippy fetch-booru` (the code is
app/commands/fetch_booru.py in the installed package)."""

from app.commands.fetch_booru import cli

if __name__ == "__main__":
    cli()
