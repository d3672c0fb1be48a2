"""The OpenAPI schema against the URL configuration and the compatibility APIs' real answers."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from moderation.compat.openapi import AKISMET_SCHEME, PERSPECTIVE_SCHEME

# Prefixes of what the schema must cover: the REST API and the compatibility APIs.
COVERED = ("api/", "v1alpha1/", "1.1/", "1.2/")
# The schema and its page are not operations of the API.
NOT_OPERATIONS = {"/api/schema/", "/api/docs/"}
COMPAT_SCHEMES = {"/v1alpha1/": PERSPECTIVE_SCHEME, "/1.1/": AKISMET_SCHEME, "/1.2/": AKISMET_SCHEME}


def routes(patterns=None, prefix: str = "") -> list[str]:
    """Every URL of the project as an OpenAPI path: ``<int:pk>`` reads ``{id}``, as spectacular names it."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            found.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{id}" if m[1] == "pk" else f"{{{m[1]}}}", route))
    return found


@pytest.fixture
def schema(db) -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_it_documents_every_api_and_compatibility_url(schema):
    public = [route for route in routes() if route.startswith(tuple("/" + p for p in COVERED))]
    assert "/v1alpha1/comments:analyze" in public and "/api/v1/threads/{thread_key}/comments" in public
    missing = [route for route in public if route not in NOT_OPERATIONS and route not in schema["paths"]]
    assert missing == []


# The moderation API's operations take a moderator's token or session (tests/moderation/test_api.py).
MODERATION_API = "/api/v1/moderation/"


def test_it_asks_no_credentials_of_the_public_api(schema):
    for path, method, operation in operations(schema):
        if path.startswith("/api/") and not path.startswith(MODERATION_API):
            assert operation.get("security", [{}]) == [{}], (method, path)


def test_it_names_the_key_scheme_of_each_compatibility_operation(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes[PERSPECTIVE_SCHEME] == {
        "type": "apiKey",
        "in": "query",
        "name": "key",
        "description": schemes[PERSPECTIVE_SCHEME]["description"],
    }
    assert schemes[AKISMET_SCHEME]["name"] == "api_key"
    compat = [(path, operation) for path, _, operation in operations(schema) if not path.startswith("/api/")]
    assert len(compat) == 7
    for path, operation in compat:
        scheme = next(scheme for prefix, scheme in COMPAT_SCHEMES.items() if path.startswith(prefix))
        assert operation["security"] == [{scheme: []}], path


def test_it_documents_the_answers_the_compatibility_apis_give_without_a_key(schema):
    """Each compatibility operation, called without a key, answers a status and type its schema lists."""
    client = Client()
    for path, method, operation in operations(schema):
        if path.startswith("/api/"):
            continue
        if method == "post":
            response = client.post(path, data="{}", content_type="application/json")
        else:
            response = client.get(path)
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, (path, response.status_code)
        media_type = response.headers["Content-Type"].split(";")[0]
        assert media_type in documented["content"], (path, media_type)
        if media_type == "text/plain":
            assert response.content.decode() in documented["content"][media_type]["schema"]["enum"]
            assert "X-akismet-debug-help" in documented["headers"] and "X-akismet-debug-help" in response.headers
        else:
            assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_it_documents_the_throttled_answers_of_the_public_api(schema):
    throttled = {"comment_submit", "comment_edit", "comment_report"}
    found = {op["operationId"] for _, _, op in operations(schema) if "429" in op["responses"]}
    assert throttled <= found
