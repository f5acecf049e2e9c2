"""The cache of verified tokens, shared by a Flask worker's threads, stays right when they evict at once."""

import random
import sys
import threading

import pytest

from local_stack.dev_auth import AUDIENCE, ISSUER
from rest_contract import token_verifier
from rest_contract.token_verifier import Authenticator, SigningKeys, jwks_reader
from tests.doors import token_for

THREADS = 16
ROUNDS = 20


@pytest.fixture
def frequent_thread_switches():
    """Threads switched every microsecond instead of every 5 ms, so that a race shows in a short test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def test_many_threads_evicting_at_once_get_every_identity_right(monkeypatch, frequent_thread_switches, settings):
    # Given a cache of 8 tokens, and 64 distinct tokens
    monkeypatch.setattr(token_verifier, "VERIFIED_CACHE_SIZE", 8)
    keys = SigningKeys(jwks_reader(jwks_file=settings.auth.jwks_file))
    authenticator = Authenticator(issuer=ISSUER, audience=AUDIENCE, keys=keys)
    tokens = {f"user-{number}": token_for("registrar", subject=f"user-{number}") for number in range(64)}
    failures: list[BaseException] = []
    wrong: list[tuple[str, str]] = []
    start = threading.Barrier(THREADS)

    def identify_all(seed: int) -> None:
        order = list(tokens.items())
        random.Random(seed).shuffle(order)
        start.wait()
        try:
            for _ in range(ROUNDS):
                for subject, token in order:
                    identity = authenticator.identify(f"Bearer {token}")
                    if identity.subject != subject:
                        wrong.append((subject, identity.subject))
        except BaseException as error:  # noqa: BLE001 - whatever a thread raised fails the test below
            failures.append(error)

    # When 16 threads identify them all, 20 times each, evicting all the while
    threads = [threading.Thread(target=identify_all, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then no call failed, and every token got its own identity
    assert failures == []
    assert wrong == []
