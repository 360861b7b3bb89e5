from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GoogleConnectConfig(AppConfig):
    name = "google_connect"
    verbose_name = _("Google Connect")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the settings-cache receiver.
        from google_connect import checks, conf  # noqa: F401

        if conf.get_settings().ACCOUNTS_GAUGE:
            from google_connect.store.health import register_accounts_gauge

            register_accounts_gauge()
