from django.urls import path

from provisioning.views import audit, custom_attributes, integrations, logs, role_mapping, sso, tokens
from provisioning.views import settings as settings_views

app_name = "provisioning"

urlpatterns = [
    path("settings/", settings_views.settings_index, name="settings"),
    path("settings/integrations/", integrations.integrations_index, name="integrations"),
    path("settings/integrations/<slug:kind>/", integrations.integration_detail, name="integration-detail"),
    path("settings/integrations/<slug:kind>/activate/", integrations.integration_activate, name="integration-activate"),
    path("settings/integrations/<slug:kind>/deactivate/", integrations.integration_deactivate,
         name="integration-deactivate"),
    path("settings/integrations/<slug:kind>/notifications/", integrations.integration_notifications,
         name="integration-notifications"),
    path("settings/integrations/<slug:kind>/role-mapping/", role_mapping.integration_role_mapping,
         name="integration-role-mapping"),
    path("settings/integrations/<slug:kind>/custom-attributes/", custom_attributes.integration_custom_attributes,
         name="integration-custom-attributes"),
    path("settings/integrations/<slug:kind>/tokens/new/", tokens.token_generate, name="token-generate"),
    path("settings/integrations/<slug:kind>/tokens/<int:token_id>/rotate/", tokens.token_rotate, name="token-rotate"),
    path("settings/integrations/<slug:kind>/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("settings/integrations/<slug:kind>/logs/", logs.integration_logs, name="integration-logs"),
    path("settings/integrations/<slug:kind>/logs/<int:request_id>/", logs.integration_log_detail,
         name="integration-log-detail"),
    path("settings/integrations/<slug:kind>/sso/", sso.sso_settings_save, name="sso-settings"),
    path("settings/integrations/<slug:kind>/sso/certificates/<int:certificate_id>/remove/",
         sso.sso_certificate_remove, name="sso-certificate-remove"),
    path("settings/integrations/<slug:kind>/sso/test/", sso.sso_test_start, name="sso-test"),
    path("settings/integrations/<slug:kind>/sso/tests/<str:reference>/", sso.sso_test_result,
         name="sso-test-result"),
    path("settings/integrations/<slug:kind>/sso-log/", sso.sso_log, name="sso-log"),
    path("settings/audit-log/", audit.audit_log, name="audit-log"),
    path("settings/audit-log/export.csv", audit.audit_log_export, name="audit-log-export"),
]
