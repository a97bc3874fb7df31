"""WSGI entry point (``gunicorn cartera.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
application = get_wsgi_application()
