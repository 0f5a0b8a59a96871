"""`python -m app.commands` = `clippy`."""

from app.commands import app

app()
