"""`uvicorn main:app` — the service, built from settings (.env and the environment)."""

from app.api.app import create_app
from app.api.logs import configure_logging
from app.config import Settings

settings = Settings()
configure_logging(settings)
app = create_app(settings)
