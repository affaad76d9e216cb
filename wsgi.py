"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from credit.web import create_app

app = create_app()
