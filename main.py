"""`uvicorn main:app` — the service, built from settings (.env and the environment).

The encoders load here, before the server starts, so missing weights are one message and
exit status 2 rather than a traceback from the lifespan (`load_encoders_or_exit`).
"""

from app.api.app import create_app, load_encoders_or_exit
from app.api.logs import configure_logging
from app.config import Settings

settings = Settings()
configure_logging(settings)
app = create_app(settings, encoders=load_encoders_or_exit(settings))
