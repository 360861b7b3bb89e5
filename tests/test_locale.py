"""The French catalog that ships in google_connect/locale is the one Django loads."""

import pytest
from django.utils import translation

from google_connect.models import GoogleAccount

pytestmark = pytest.mark.django_db


def test_error_page_is_translated(alice, settings):
    settings.LANGUAGE_CODE = "fr"

    response = alice.get("/google/accounts/connect", {"state": "unknown", "code": "4/x"})

    assert response.status_code == 400
    content = response.content.decode()
    assert (
        "Une erreur s’est produite\xa0; pour la corriger, déconnectez complètement Google, "
        "puis réessayez." in content
    )
    assert "Réessayer" in content
    assert "Something went wrong" not in content


def test_model_names_are_translated():
    with translation.override("fr"):
        assert str(GoogleAccount._meta.verbose_name_plural) == "comptes Google"
        assert str(GoogleAccount.Status.RECONNECT_REQUIRED.label) == "Reconnexion requise"
