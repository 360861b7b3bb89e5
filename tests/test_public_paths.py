"""Every name the documentation gives sites keeps working from its documented path.

The modules moved into packages by concern (docs/explanation/architecture.md);
the paths below are the ones sites were told to import from, and stay
importable for at least one release. Moved ones warn, naming the new path.
"""

import importlib

import pytest

DOCUMENTED = {
    "google_connect.models": [
        "GoogleAccount",
        "GoogleAccountQuerySet",
        "GoogleSecurityEvent",
        "PendingRevocation",
        "UsedState",
    ],
    "google_connect.signals": [
        "google_account_connected",
        "google_token_refreshed",
        "google_account_reconnect_required",
        "google_account_expiring",
        "google_account_disconnected",
        "google_account_scopes_changed",
        "google_security_event",
    ],
    "google_connect.decorators": ["google_scopes_required"],
    "google_connect.mixins": ["GoogleScopesRequiredMixin"],
    "google_connect.middleware": ["ReconnectRequiredMiddleware"],
    "google_connect.testing": [
        "FakeGoogle",
        "make_account",
        "start_flow",
        "finish_flow",
        "token_body",
        "userinfo_body",
    ],
    "google_connect.testing.fixtures": ["google"],
    "google_connect.exceptions": [
        "GoogleConnectError",
        "GoogleAPIError",
        "GoogleUnavailable",
        "ReconnectRequired",
        "AccountLinkedToAnotherUser",
        "MissingRefreshToken",
        "UnknownScopeSet",
        "UndecryptableToken",
    ],
    "google_connect.grants": [
        "send_expiry_warnings",
        "keep_alive",
        "retry_pending_revocations",
        "PendingReport",
        "rotate_keys",
        "RotationReport",
    ],
    # docs/reference/tasks.md: the django.tasks twins of the Celery tasks.
    "google_connect.background_tasks": [
        "enqueue",
        "refresh_expiring",
        "refresh_accounts",
        "keep_alive",
        "send_expiry_warnings",
        "revoke_matching",
        "revoke_accounts",
        "retry_pending_revocations",
        "rotate_token_keys",
        "rotate_accounts",
        "rotate_pending_revocations",
    ],
    "google_connect.urls": ["urlpatterns", "app_name"],
    "google_connect.store.reasons": ["ReconnectReason"],
    "google_connect.web.pages": ["render_page"],
}

MOVED = {
    ("google_connect.reasons", "ReconnectReason"): "google_connect.store.reasons",
    ("google_connect.pages", "render_page"): "google_connect.web.pages",
    # Documented at these paths before the move into store/; their public
    # home is now google_connect.grants, not the internal store modules.
    ("google_connect.rotation", "rotate_keys"): "google_connect.grants",
    ("google_connect.pending_revocation", "retry_pending_revocations"): "google_connect.grants",
}


@pytest.mark.parametrize(
    ("module", "name"), [(module, name) for module, names in DOCUMENTED.items() for name in names]
)
def test_a_documented_name_imports_from_its_documented_path(module, name):
    assert getattr(importlib.import_module(module), name) is not None


@pytest.mark.parametrize(("old", "new"), list(MOVED.items()))
def test_a_moved_name_still_imports_from_its_old_path_with_a_warning(old, new):
    module, name = old
    with pytest.warns(DeprecationWarning, match=f"{module}.{name} has moved to {new}.{name}"):
        value = getattr(importlib.import_module(module), name)
    assert value is getattr(importlib.import_module(new), name)


def test_an_old_path_still_answers_from_imports():
    with pytest.warns(DeprecationWarning, match="google_connect.reasons.ReconnectReason"):
        from google_connect.reasons import ReconnectReason  # noqa: PLC0415
    assert ReconnectReason.INVALID_GRANT == "invalid_grant"


def test_a_name_the_new_module_lacks_is_an_attribute_error_on_the_old_one():
    old = importlib.import_module("google_connect.reasons")
    with pytest.raises(AttributeError):
        old.NoSuchName  # noqa: B018


def test_the_celery_task_names_are_unchanged():
    pytest.importorskip("celery")
    from google_connect import tasks  # noqa: PLC0415

    names = {
        task.name
        for task in vars(tasks).values()
        if hasattr(task, "name") and str(getattr(task, "name", "")).startswith("google_connect.")
    }
    assert names >= {
        "google_connect.refresh_expiring",
        "google_connect.refresh_accounts",
        "google_connect.keep_alive",
        "google_connect.send_expiry_warnings",
        "google_connect.revoke_matching",
        "google_connect.revoke_accounts",
        "google_connect.rotate_token_keys",
        "google_connect.rotate_accounts",
    }
