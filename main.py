"""`uvicorn main:app` — the service, built from settings (.env and the environment).

The encoders load here, before the server starts, so missing weights are one message and
exit status 2 rather than a traceback from the lifespan (`load_encoders_or_exit`).
Forwarded headers are believed only from FORWARDED_ALLOW_IPS (app/api/serving.py): uvicorn
reads that variable itself, so it must be in the environment, not only in `.env`.
"""

import logging

from app.api.app import create_app, load_encoders_or_exit
from app.api.logs import configure_logging
from app.api.serving import warn_if_uvicorn_trusts_loopback
from app.config import Settings

settings = Settings()
configure_logging(settings)
warn_if_uvicorn_trusts_loopback(logging.getLogger("main"))
app = create_app(settings, encoders=load_encoders_or_exit(settings))
