"""`uvicorn main:app` — the service, built from settings (.env and the environment)."""

from app.api.app import create_app

app = create_app()
