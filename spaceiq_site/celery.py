"""The Celery app. Settings come from Django's, namespace CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaceiq_site.settings")

app = Celery("spaceiq")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
