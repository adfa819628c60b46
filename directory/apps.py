from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        """Connect the sign-in lockout audit (directory.signin) to django-axes' signal."""
        from directory import signin  # noqa: F401
