"""The EC2 front door: a Flask app served by gunicorn."""

from .app import create_app

__all__ = ["create_app"]
