"""Callbacks for one Google account arriving at the same moment, on real threads.

Each thread has its own test ``Client`` (so its own session and flow) and its
own database connection. A ``threading.Barrier`` releases the callbacks
together, the fake token endpoint holds every exchange for 100 ms, and the
INSERT of a new row is held back for 100 ms more, so every thread tries to
INSERT before any of them has written: the unique ``sub`` is really contested,
and ``GoogleAccountQuerySet.connect()``'s locked path really takes over.

Runs on PostgreSQL; SQLite serializes writers, so there is no race to see.
"""

import json
import threading
import time

import pytest
from django.db import IntegrityError, connection, connections
from django.test import Client

from google_connect.models import GoogleAccount
from google_connect.signals import google_account_connected
from tests.figures import report
from tests.support import finish_flow, start_flow, token_body, userinfo_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
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
    """What the threads did: peak overlap at Google, INSERTs that lost, signals sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside_exchange = 0
        self.peak_exchange = 0
        self.connect_attempts = 0
        self.lost_inserts = 0
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
    # The race really happened: the exchanges overlapped, and INSERTs lost to
    # the unique constraint and were retried as updates.
    assert race.peak_exchange > 1
    assert race.lost_inserts >= 1
    # Of the callbacks that found no row and tried to INSERT, exactly one won.
    assert race.connect_attempts <= SAME_USER_CALLBACKS
    assert race.lost_inserts == race.connect_attempts - 1
    record(
        atomic_requests,
        f"{SAME_USER_CALLBACKS} same-user callbacks"
        f"{' (ATOMIC_REQUESTS)' if atomic_requests else ''} -> 1 row, "
        f"{SAME_USER_CALLBACKS}x200 (1 created, {SAME_USER_CALLBACKS - 1} reconnects; "
        f"{race.lost_inserts} lost INSERTs taken over by the locked update, "
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
    lost_inserts = 0

    for round_number in range(ROUNDS):
        current_sub["value"] = f"10987654321098765432{round_number}"
        lost_before = race.lost_inserts
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
        lost_inserts += race.lost_inserts - lost_before

    assert GoogleAccount.objects.count() == ROUNDS
    assert race.created_flags == [True] * ROUNDS
    assert lost_inserts >= 1
    record(
        "two users",
        f"2 users x {ROUNDS} rounds -> 1 owner each, {ROUNDS}x200 + {ROUNDS}x400 "
        f"account_linked_to_another_user ({lost_inserts} lost INSERTs; "
        f"wins {owners[user.pk]}:{owners[other_user.pk]})",
    )
