import pytest

from tests.doors import Call, make_door

DOORS = ["lambda", "flask"]


@pytest.fixture(params=DOORS)
def api(request, db, application):
    """One front door, over an empty database; the suite runs once per door."""
    return make_door(request.param, application)


@pytest.fixture
def both(db, application):
    """Both doors, to send one call to each and compare."""
    return [make_door(name, application) for name in DOORS]


@pytest.fixture
def create(api):
    """Creates a student through the door under test and returns the reply body."""

    def _create(**overrides):
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"} | overrides
        reply = api.send(Call("POST", "/students", json_body=body))
        assert reply.status == 201, reply.body
        return reply.json

    return _create
