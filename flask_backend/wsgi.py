"""gunicorn's entry point: `gunicorn -c flask_backend/gunicorn.conf.py flask_backend.wsgi:app`."""

from . import create_app

app = create_app()
