import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaceiq_site.settings")

application = get_wsgi_application()

# Import every view (and the SAML toolkit behind /sso) while the worker boots, not during
# its first request, which would otherwise wait for those imports.
import_module(settings.ROOT_URLCONF)
