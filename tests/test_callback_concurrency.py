"""Callbacks for one Google account arriving at the same moment, on real threads.

Each thread has its own test ``Client`` (so its own session and flow) and its
own database connection. A ``threading.Barrier`` releases the callbacks
together, the fake token endpoint holds every exchange for 100 ms, and the
INSERT of a new row is held back for 100 ms more, while its connect holds the
Google account's lock (store/connect_lock.py): the threads that arrive
meanwhile wait for the lock, and each then decides on what the one before it
committed. So no INSERT is ever refused by the unique constraint, and the
threads' time in ``lock()`` shows that they really waited for each other.

Runs on PostgreSQL and MariaDB; SQLite serializes writers, so there is no race to see.
"""

import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import IntegrityError, connection, connections
from django.test import Client

from google_connect.models import GoogleAccount
from google_connect.signals import google_account_connected
from google_connect.store import connect_lock
from tests.figures import report
from tests.support import finish_flow, start_flow, token_body, userinfo_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor not in ("postgresql", "mysql"),
        reason="concurrent writers need PostgreSQL or MariaDB",
    ),
]

SAME_USER_CALLBACKS = 20
ROUNDS = 5
EXCHANGE_DELAY = 0.1
INSERT_DELAY = 0.1
LINKED_ELSEWHERE = 'data-reason="account_linked_to_another_user"'

OUTCOMES: dict[object, str] = {}


def record(key: object, outcome: str) -> None:
    OUTCOMES[key] = outcome
    report("callback concurrency", "; ".join(OUTCOMES.values()))


class Race:
    """What the threads did: peak overlap at Google, waits for the lock, INSERTs, signals sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside_exchange = 0
        self.peak_exchange = 0
        self.connect_attempts = 0
        self.lost_inserts = 0
        self.lock_waits = 0
        self.created_flags: list[bool] = []

    def exchange(self, request):
        with self.lock:
            self.inside_exchange += 1
            self.peak_exchange = max(self.peak_exchange, self.inside_exchange)
        time.sleep(EXCHANGE_DELAY)
        with self.lock:
            self.inside_exchange -= 1
        return 200, {"Content-Type": "application/json"}, json.dumps(token_body())


@pytest.fixture
def race(google, monkeypatch):
    race = Race()
    google.mock.add_callback("POST", google.config.TOKEN_URL, callback=race.exchange)
    real_save = GoogleAccount.save

    def racing_save(self, *args, **kwargs):
        if not kwargs.get("force_insert"):
            return real_save(self, *args, **kwargs)
        with race.lock:
            race.connect_attempts += 1
        # Hold every racing thread just before its INSERT, so that they all
        # reach it before the first one commits.
        time.sleep(INSERT_DELAY)
        try:
            return real_save(self, *args, **kwargs)
        except IntegrityError:
            # Another thread stored the sub first: the unique constraint
            # refused this INSERT.
            with race.lock:
                race.lost_inserts += 1
            raise

    monkeypatch.setattr(GoogleAccount, "save", racing_save)
    real_lock = connect_lock.lock

    def timed_lock(sub, using):
        started = time.monotonic()
        real_lock(sub, using=using)
        # Longer than half the held-back INSERT: it waited for another
        # connect's transaction to end.
        if time.monotonic() - started > INSERT_DELAY / 2:
            with race.lock:
                race.lock_waits += 1

    monkeypatch.setattr(connect_lock, "lock", timed_lock)

    def on_connected(created, **kwargs):
        with race.lock:
            race.created_flags.append(created)

    google_account_connected.connect(on_connected)
    yield race
    google_account_connected.disconnect(on_connected)


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def callbacks_at_once(flows: list[tuple[Client, str]]) -> list:
    """Send every ``(client, state)`` callback on its own thread, released together."""
    barrier = threading.Barrier(len(flows))
    responses: list = [None] * len(flows)
    errors: list[BaseException] = []

    def callback(index: int, client: Client, state: str) -> None:
        try:
            barrier.wait(timeout=30)
            responses[index] = finish_flow(client, state)
        except BaseException as exc:  # noqa: BLE001 (re-raised on the main thread)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=callback, args=(i, client, state))
        for i, (client, state) in enumerate(flows)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]
    return responses


@pytest.mark.parametrize("atomic_requests", [False, True], ids=["autocommit", "atomic_requests"])
def test_simultaneous_callbacks_by_one_user_store_one_row(
    user, google, race, monkeypatch, atomic_requests
):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    google.userinfo()
    # One client per callback: a session keeps only five pending flows.
    flows = []
    for _ in range(SAME_USER_CALLBACKS):
        client = logged_in_client(user)
        flows.append((client, start_flow(client)["state"]))

    responses = callbacks_at_once(flows)

    # Every callback succeeds: one creates the row, the others reconnect it.
    assert [r.status_code for r in responses] == [200] * SAME_USER_CALLBACKS
    assert GoogleAccount.objects.count() == 1
    assert GoogleAccount.objects.get().user == user
    assert sorted(race.created_flags) == [False] * (SAME_USER_CALLBACKS - 1) + [True]
    # The race really happened: the exchanges overlapped, and callbacks
    # waited for the lock while the first one held its INSERT back.
    assert race.peak_exchange > 1
    assert race.lock_waits >= 1
    # The lock decided before the unique constraint had to: one INSERT, the
    # others found its row and updated it.
    assert (race.connect_attempts, race.lost_inserts) == (1, 0)
    record(
        atomic_requests,
        f"{SAME_USER_CALLBACKS} same-user callbacks"
        f"{' (ATOMIC_REQUESTS)' if atomic_requests else ''} -> 1 row, "
        f"{SAME_USER_CALLBACKS}x200 (1 created, {SAME_USER_CALLBACKS - 1} reconnects; "
        f"{race.lock_waits} waited for the lock, no INSERT refused, "
        f"{race.peak_exchange} exchanges overlapping)",
    )


def test_one_google_account_claimed_by_two_users_at_once_gets_one_owner(
    user, other_user, google, race
):
    current_sub = {"value": ""}
    google.mock.add_callback(
        "GET",
        google.config.USERINFO_URL,
        callback=lambda request: (
            200,
            {"Content-Type": "application/json"},
            json.dumps(userinfo_body(sub=current_sub["value"])),
        ),
    )
    owners = {user.pk: 0, other_user.pk: 0}

    for round_number in range(ROUNDS):
        current_sub["value"] = f"10987654321098765432{round_number}"
        flows = []
        for person in (user, other_user):
            client = logged_in_client(person)
            flows.append((client, start_flow(client)["state"]))

        responses = callbacks_at_once(flows)

        assert sorted(r.status_code for r in responses) == [200, 400]
        [refused] = [r for r in responses if r.status_code == 400]
        assert LINKED_ELSEWHERE in refused.content.decode()
        [account] = GoogleAccount.objects.filter(sub=current_sub["value"])
        [winner] = [
            person
            for person, r in zip((user, other_user), responses, strict=True)
            if r.status_code == 200
        ]
        assert account.user == winner
        owners[winner.pk] += 1

    assert GoogleAccount.objects.count() == ROUNDS
    assert race.created_flags == [True] * ROUNDS
    # Losers waited for the winner's lock (on a loaded machine one may come
    # only after it committed, and find its row at once).
    assert race.lock_waits >= 1
    assert race.lost_inserts == 0
    record(
        "two users",
        f"2 users x {ROUNDS} rounds -> 1 owner each, {ROUNDS}x200 + {ROUNDS}x400 "
        f"account_linked_to_another_user ({race.lock_waits} waited for the lock; "
        f"wins {owners[user.pk]}:{owners[other_user.pk]})",
    )


B_ID = "brand-b-id.apps.googleusercontent.com"


def choose_by_host(request):
    return "brand-b" if request.get_host() == "b.example" else "default"


@pytest.fixture
def two_clients(settings):
    settings.ALLOWED_HOSTS = ["testserver", "b.example"]
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "CLIENTS": {"brand-b": {"CLIENT_ID": B_ID, "CLIENT_SECRET": "B-SECRET"}},
        "CLIENT_FOR_REQUEST": "tests.test_callback_concurrency.choose_by_host",
    }


def start_flow_at(client: Client, host: str) -> str:
    response = client.get("/google/accounts/authorize", HTTP_HOST=host)
    assert response.status_code == 302, response
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def test_one_google_account_claimed_through_two_clients_at_once_gets_one_owner(
    user, other_user, google, race, two_clients
):
    # The unique constraint is per client: only connect()'s lock keeps the
    # two users' first connects through two clients from both succeeding.
    current_sub = {"value": ""}
    google.mock.add_callback(
        "GET",
        google.config.USERINFO_URL,
        callback=lambda request: (
            200,
            {"Content-Type": "application/json"},
            json.dumps(userinfo_body(sub=current_sub["value"])),
        ),
    )
    wins = {"default": 0, "brand-b": 0}

    for round_number in range(ROUNDS):
        current_sub["value"] = f"20987654321098765432{round_number}"
        flows = []
        for person, host in ((user, "testserver"), (other_user, "b.example")):
            client = logged_in_client(person)
            flows.append((client, start_flow_at(client, host)))

        responses = callbacks_at_once(flows)

        assert sorted(r.status_code for r in responses) == [200, 400]
        [refused] = [r for r in responses if r.status_code == 400]
        assert LINKED_ELSEWHERE in refused.content.decode()
        [account] = GoogleAccount.objects.filter(sub=current_sub["value"])
        [(winner, client_name)] = [
            pair
            for pair, r in zip(((user, "default"), (other_user, "brand-b")), responses, strict=True)
            if r.status_code == 200
        ]
        assert account.user == winner
        wins[client_name] += 1

    assert GoogleAccount.objects.count() == ROUNDS
    assert race.created_flags == [True] * ROUNDS
    assert race.lock_waits >= 1
    assert race.lost_inserts == 0
    record(
        "two clients",
        f"2 users through 2 clients x {ROUNDS} rounds -> 1 owner each, {ROUNDS}x200 + "
        f"{ROUNDS}x400 account_linked_to_another_user ({race.lock_waits} waited for the "
        f"lock; wins default {wins['default']}:{wins['brand-b']} brand-b)",
    )
