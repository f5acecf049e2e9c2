import pytest

from rest_contract.auth import get_authenticator
from tests.doors import Call, make_door

DOORS = ["lambda", "flask"]


@pytest.fixture(params=DOORS)
def api(request, db):
    """One front door, over an empty database; the suite runs once per door."""
    return make_door(request.param)


@pytest.fixture
def both(db):
    """Both doors, to send one call to each and compare."""
    return [make_door(name) for name in DOORS]


@pytest.fixture
def create(api):
    """Creates a student through the door under test and returns the reply body."""

    def _create(**overrides):
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"} | overrides
        reply = api.send(Call("POST", "/students", json_body=body))
        assert reply.status == 201, reply.body
        return reply.json

    return _create


@pytest.fixture
def rebuilt_authenticator():
    """For a test that changes the AUTH_* variables: the doors build their authenticator again from them, and
    again after the test (whose variables restore_environment takes back)."""
    get_authenticator.cache_clear()
    yield
    get_authenticator.cache_clear()
