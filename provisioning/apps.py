from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        """Register the deployment checks of the SCIM secrets (provisioning.checks)."""
        from provisioning import checks  # noqa: F401
