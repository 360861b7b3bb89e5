"""register_google_risc_stream against Google's RISC API on ``responses``."""

import json
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from responses import matchers

from google_connect.risc.actions import EVENT_TYPES
from google_connect.risc.stream import AUDIENCE, PUSH
from tests.risc_support import SECEVENT, rsa_key

API = "https://risc.googleapis.com/v1beta"
RECEIVER = "https://example.com/google/risc/events"
CLIENT_EMAIL = "risc@project.iam.gserviceaccount.com"


@pytest.fixture
def key_file(tmp_path):
    pem = rsa_key("service-account").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "project",
                "private_key_id": "sa-key-1",
                "private_key": pem.decode(),
                "client_email": CLIENT_EMAIL,
                "client_id": "123",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return str(path)


def run(*args):
    out = StringIO()
    call_command("register_google_risc_stream", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def bearer_claims(call):
    scheme, _, token = call.request.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token)["kid"] == "sa-key-1"
    public = rsa_key("service-account").public_key()
    return jwt.decode(token, public, algorithms=["RS256"], audience=AUDIENCE)


def test_configure_pushes_every_event_type_to_the_receiver(google, key_file):
    expected = {
        "delivery": {"delivery_method": PUSH, "url": RECEIVER},
        "events_requested": list(EVENT_TYPES),
    }
    # The table in docs/reference/risc.md: two OAuth events and five RISC ones.
    assert sorted(t.removeprefix(SECEVENT).split("/")[0] for t in EVENT_TYPES) == [
        *["oauth"] * 2,
        *["risc"] * 5,
    ]
    update = google.mock.post(
        f"{API}/stream:update", json={}, match=[matchers.json_params_matcher(expected)]
    )

    out = run("--service-account", key_file, "--receiver-url", RECEIVER)

    assert out == f"Stream configured: Google pushes 7 event types to {RECEIVER}.\n"
    claims = bearer_claims(update.calls[0])
    assert (claims["iss"], claims["sub"], claims["aud"]) == (CLIENT_EMAIL, CLIENT_EMAIL, AUDIENCE)


def test_the_key_file_comes_from_google_application_credentials(google, key_file, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", key_file)
    update = google.mock.post(f"{API}/stream:update", json={})

    run("--receiver-url", RECEIVER)

    assert update.call_count == 1


def test_the_api_url_setting(google, key_file, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "RISC_API_URL": "https://risc.test/v9"}
    update = google.mock.post("https://risc.test/v9/stream:update", json={})

    run("--service-account", key_file, "--receiver-url", RECEIVER)

    assert update.call_count == 1


def test_status(google, key_file):
    stream = {"delivery": {"delivery_method": PUSH, "url": RECEIVER}, "events_requested": []}
    google.mock.get(f"{API}/stream", json=stream)
    google.mock.get(f"{API}/stream/status", json={"status": "enabled"})

    out = run("--service-account", key_file, "--status")

    assert out.splitlines() == ["Stream: " + json.dumps(stream, sort_keys=True), "Status: enabled"]


@pytest.mark.parametrize(("flag", "status"), [("--enable", "enabled"), ("--disable", "disabled")])
def test_enable_and_disable(google, key_file, flag, status):
    update = google.mock.post(
        f"{API}/stream/status:update",
        json={},
        match=[matchers.json_params_matcher({"status": status})],
    )

    out = run("--service-account", key_file, flag)

    assert out == f"Stream {status}.\n"
    assert update.call_count == 1


def test_verify(google, key_file):
    verify = google.mock.post(
        f"{API}/stream:verify", json={}, match=[matchers.json_params_matcher({"state": "s-1"})]
    )

    out = run("--service-account", key_file, "--verify", "s-1")

    assert "Verification requested with state 's-1'" in out
    assert verify.call_count == 1


def test_google_refusing_is_a_command_error(google, key_file):
    google.mock.post(
        f"{API}/stream:update",
        status=403,
        json={"error": {"code": 403, "message": "RISC API not enabled", "status": "DENIED"}},
    )

    with pytest.raises(CommandError, match="HTTP 403 to stream:update: RISC API not enabled"):
        run("--service-account", key_file, "--receiver-url", RECEIVER)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--receiver-url", RECEIVER], "No service account key"),
        (["--service-account", "KEY"], "--receiver-url is required"),
        (["--service-account", "KEY", "--receiver-url", "http://example.com/r"], "https"),
        (["--service-account", "/nonexistent.json", "--status"], "cannot be read"),
    ],
)
def test_usage_errors(google, monkeypatch, args, message):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)

    with pytest.raises(CommandError, match=message):
        run(*args)

    assert len(google.mock.calls) == 0


def test_a_redirect_is_a_command_error_not_a_success(google, key_file):
    google.mock.post(
        f"{API}/stream:update",
        status=307,
        headers={"Location": "https://elsewhere.example/stream:update"},
        body="x" * 100_000,
    )

    with pytest.raises(CommandError, match="HTTP 307, a redirect"):
        run("--service-account", key_file, "--receiver-url", RECEIVER)
    assert len(google.mock.calls) == 1
