from django.apps import AppConfig


class FakeGoogleConfig(AppConfig):
    name = "example_project.fake_google"
    label = "fake_google"
    verbose_name = "Google stand-in (demo mode)"
    default_auto_field = "django.db.models.BigAutoField"
