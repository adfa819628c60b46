from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        """Register the deployment checks of the SCIM secrets (provisioning.checks), and email the
        security notices of role changes and API key changes the directory announces
        (provisioning.role_notices, provisioning.api_key_notices)."""
        from provisioning import api_key_notices, checks, role_notices  # noqa: F401

        role_notices.connect()
        api_key_notices.connect()
