from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GoogleConnectConfig(AppConfig):
    name = "google_connect"
    verbose_name = _("Google Connect")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the settings-cache receiver.
        from google_connect import checks, conf  # noqa: F401

        config = conf.get_settings()
        if config.ACCOUNTS_GAUGE or config.GRANTS_ENDING_GAUGE:
            from google_connect.store import health

            if config.ACCOUNTS_GAUGE:
                health.register_accounts_gauge()
            if config.GRANTS_ENDING_GAUGE:
                health.register_grants_ending_gauge()
