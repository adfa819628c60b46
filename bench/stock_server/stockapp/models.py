"""Django's auth user and a group, each with django-scim2's model mixins.

The shape of django-scim2's own test project: the group carries the SCIM
group mixin and a ``name``; the user is Django's ``AbstractUser`` with the
SCIM user mixin and a ``scim_groups`` many-to-many whose reverse accessor is
the ``user_set`` that the library's default group adapter reads and writes.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    name = models.CharField("name", max_length=150, unique=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractSCIMUserMixin, AbstractUser):
    scim_groups = models.ManyToManyField(Group, related_name="user_set", blank=True)
