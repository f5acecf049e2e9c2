"""gunicorn's entry point: `gunicorn -c flask_backend/gunicorn.conf.py flask_backend.wsgi:app`. Each worker imports
it after the fork, so each builds its own application (its own connection pool) from the environment's settings."""

import sys

from student_records.settings import ConfigurationError

from . import create_app

try:
    app = create_app()
except ConfigurationError as error:  # a bad setting: one line naming it, not a traceback per worker
    sys.exit(f"the Flask door cannot start: {error}")
