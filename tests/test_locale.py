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
    # Issue 29: an expired link gets its own advice, not the spec's sentence.
    assert "<h1>Ce lien a expiré</h1>" in content
    assert "Réessayer" in content
    assert "Something went wrong" not in content


def test_model_names_are_translated():
    with translation.override("fr"):
        assert str(GoogleAccount._meta.verbose_name_plural) == "comptes Google"
        assert str(GoogleAccount.Status.RECONNECT_REQUIRED.label) == "Reconnexion requise"


def test_reconnect_reasons_and_grant_dates_are_translated():
    from google_connect.store.reasons import ReconnectReason

    with translation.override("fr"):
        assert str(ReconnectReason.REFRESH_TOKEN_EXPIRED.label) == (
            "L’accès limité dans le temps a pris fin"
        )
        assert str(ReconnectReason.REAUTH_REQUIRED.label) == (
            "Google demande à l’utilisateur de se reconnecter"
        )
        field = GoogleAccount._meta.get_field("refresh_token_expires_at")
        assert str(field.verbose_name) == "jeton d’actualisation valable jusqu’au"
        assert str(GoogleAccount._meta.get_field("last_refreshed_at").verbose_name) == (
            "dernière actualisation le"
        )
