"""WSGI entry point: ``gunicorn -w 2 wsgi:app``."""
from caseflow import create_app

app = create_app()
