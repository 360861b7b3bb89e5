from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "example_project"
    verbose_name = "google_connect example"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
