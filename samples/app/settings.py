"""Settings for the demo web app, Django style. Every credential here is fake."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "mki3cew081&%%w*t8og7onh(4s!23_6&m-2&5+ur*hzje!lp4l"

DEBUG = os.environ.get("DEBUG") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
]

# The database password comes from the environment: the right idea, though
# .env and docker-compose.yml then write it down in plain text anyway.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "USER": "app",
        "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
        "HOST": "db",
        "PORT": "5432",
    }
}

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "smtp.sendgrid.net"
EMAIL_PORT = 587
EMAIL_USE_TLS = True
EMAIL_HOST_USER = "apikey"
EMAIL_HOST_PASSWORD = "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"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static"
