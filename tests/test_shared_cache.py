"""Several web nodes share the figures and charts through Redis (FLEET_REDIS_URL): what one
node computed, the others serve; a change made through one node is seen by all at once."""

import uuid

import pytest

from fleet.extensions import db

from .factories import PASSWORD, make_return, make_user
from .progress_helpers import make_progress_fixture
from .redis_helpers import redis_or_skip

REDIS_URL = "redis://127.0.0.1:6379/0"



@pytest.fixture
def two_nodes(make_app, users):
    """Two applications on one database and one Redis, as two gunicorn nodes would be."""
    client = redis_or_skip(REDIS_URL)
    prefix = f"fleet-test-{uuid.uuid4().hex}:"
    node_a = make_app(REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix)
    node_b = make_app(REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix)
    yield node_a, node_b
    for name in client.scan_iter(match=prefix + "*"):
        client.delete(name)


def _signed_in(app, username: str):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_figures_computed_on_one_node_are_served_by_the_other(app, two_nodes):
    make_progress_fixture()
    node_a, node_b = two_nodes
    url = "/api/v1/progress?basis=reported&through=2025-03"
    on_a = _signed_in(node_a, "ministry1").get(url)
    assert on_a.status_code == 200
    assert node_a.extensions["fleet.figures_cache"].made == 1
    on_b = _signed_in(node_b, "ministry1").get(url)
    assert on_b.json == on_a.json
    assert node_b.extensions["fleet.figures_cache"].made == 0  # served from Redis
    # The answer itself, rendered on node A, is served by node B from Redis.
    assert node_b.extensions["fleet.page_cache"].hits >= 1


def test_a_page_rendered_on_one_node_is_served_by_the_other_with_its_own_user(app, two_nodes):
    make_progress_fixture()
    make_user("ministry2", "ministry")
    node_a, node_b = two_nodes
    url = "/progress/?through=2025-03"
    on_a = _signed_in(node_a, "ministry1").get(url).get_data(as_text=True)
    on_b = _signed_in(node_b, "ministry2").get(url).get_data(as_text=True)
    assert node_b.extensions["fleet.page_cache"].hits >= 1
    assert "ministry2" in on_b and "ministry2" not in on_a and "ministry1" not in on_b


def test_a_change_through_one_node_is_on_the_other_at_once(app, two_nodes):
    fixture = make_progress_fixture()
    node_a, node_b = two_nodes
    url = "/api/v1/progress?basis=reported&through=2025-03"
    reader = _signed_in(node_b, "ministry1")
    before = reader.get(url).json["national"]["nev"]
    make_return(fixture["wx"], "2025-03", "submitted", {"bus": {"bev": 7}})
    db.session.commit()
    assert reader.get(url).json["national"]["nev"] == before + 7
    chart = "/progress/charts/national.png?through=2025-03"
    first = _signed_in(node_a, "ministry1").get(chart)
    again = reader.get(chart, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304  # the same version, the same ETag, on either node
    assert node_b.extensions["fleet.chart_cache"].made == 0
