from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        """Connect the sign-in lockout audit and the session records (directory.signin) to django-axes'
        and Django's sign-in signals, and give never-analyzed tables planner statistics after each
        migrate (spaceiq_site.postgresql.statistics)."""
        from django.db.models.signals import post_migrate

        from directory import signin  # noqa: F401
        from spaceiq_site.postgresql.statistics import never_analyzed_tables_analyze

        post_migrate.connect(never_analyzed_tables_analyze, sender=self, dispatch_uid="directory-analyze-new-tables")
