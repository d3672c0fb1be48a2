"""Contract tests: the exact bodies Coral Talk sends to Perspective, and Perspective's documented answers."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.compat import services
from moderation.compat.models import ApiKey, TrainingLabel
from moderation.scoring import get_scorer
from tests.moderation.compat.conftest import CLEAN, TOXIC

ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"


def post(client, url, key, body):
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(f"{url}?key={key}", payload, content_type="application/json")


def coral_analyze(text, language="en", do_not_store=True):
    """What Coral Talk's perspective service sends (formatBody, comments:analyze)."""
    return {
        "comment": {"text": text},
        "doNotStore": do_not_store,
        "requestedAttributes": {"TOXICITY": {}},
        "languages": [language],
    }


def coral_suggest(text, value, comment_id="42"):
    """What Coral Talk sends when a moderator approves (0) or rejects (1) a comment."""
    return {
        "comment": {"text": text},
        "context": {
            "entries": [
                {
                    "text": json.dumps(
                        {"url": f"https://planet.example/news/bridge?commentID={comment_id}", "Coral_comment_id": "42"}
                    )
                }
            ]
        },
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": value}}},
        "languages": ["en"],
        "communityId": "Coral:https://planet.example",
        "clientToken": f"comment:{comment_id}",
    }


@pytest.mark.parametrize("text", [CLEAN, TOXIC])
def test_it_answers_coral_with_the_pipelines_toxicity(client, key, text):
    response = post(client, ANALYZE, key, coral_analyze(text))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "attributeScores": {
            "TOXICITY": {"summaryScore": {"value": get_scorer().score(text)["TOXICITY"], "type": "PROBABILITY"}}
        },
        "languages": ["en"],
        "detectedLanguages": ["en"],
    }


def test_it_scores_a_german_site_and_reports_the_language(client, key):
    text = "Du bist ein Idiot und hast keine Ahnung, das ist nicht wahr."
    body = post(client, ANALYZE, key, coral_analyze(text, language="de")).json()
    assert body["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == get_scorer().score(text)["TOXICITY"]
    assert body["languages"] == ["de"] and body["detectedLanguages"] == ["de"]


def test_it_scores_any_script_and_detects_without_languages(client, key):
    body = post(client, ANALYZE, key, {"comment": {"text": "Ты идиот."}, "requestedAttributes": {"TOXICITY": {}}})
    assert body.status_code == 200
    assert body.json()["languages"] == ["ru"] and body.json()["detectedLanguages"] == ["ru"]


def test_it_answers_every_attribute_the_models_provide(client, key):
    attributes = services.scored_attributes()
    body = post(
        client,
        ANALYZE,
        key,
        {
            "comment": {"text": TOXIC, "type": "PLAIN_TEXT"},
            "requestedAttributes": {name: {"scoreType": "PROBABILITY"} for name in attributes},
            "clientToken": "abc",
            "sessionId": "s1",
            "context": {"entries": [{"text": "the article", "type": "PLAIN_TEXT"}]},
        },
    ).json()
    scores = get_scorer().score(TOXIC)
    assert {name: value["summaryScore"]["value"] for name, value in body["attributeScores"].items()} == scores
    assert body["clientToken"] == "abc"


def test_it_serves_the_threat_severity_and_sexual_heads(client, key):
    text = "I know where you live and I'm going to come and break your legs"
    requested = {name: {} for name in ("THREAT", "SEVERE_TOXICITY", "SEXUALLY_EXPLICIT", "IDENTITY_ATTACK")}
    body = post(client, ANALYZE, key, {"comment": {"text": text}, "requestedAttributes": requested}).json()
    assert set(body["attributeScores"]) == set(requested)
    assert body["attributeScores"]["THREAT"]["summaryScore"]["value"] == get_scorer().score(text)["THREAT"]


def test_it_leaves_out_attributes_below_their_threshold(client, key):
    scores = get_scorer().score(CLEAN)
    body = post(
        client,
        ANALYZE,
        key,
        {
            "comment": {"text": CLEAN},
            "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.99}, "SPAM": {"scoreThreshold": 0}},
        },
    ).json()
    assert scores["TOXICITY"] < 0.99
    assert list(body["attributeScores"]) == ["SPAM"]


def test_it_scores_each_sentence_for_span_annotations(client, key):
    text = f"{CLEAN} {TOXIC}."
    body = post(
        client,
        ANALYZE,
        key,
        {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": True},
    ).json()
    spans = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert [text[span["begin"] : span["end"]] for span in spans] == [CLEAN, f"{TOXIC}."]
    assert spans[1]["score"]["value"] > spans[0]["score"]["value"]
    assert spans[1]["score"]["type"] == "PROBABILITY"
    assert body["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == get_scorer().score(text)["TOXICITY"]


def test_it_gives_no_span_scores_unless_asked(client, key):
    body = post(client, ANALYZE, key, coral_analyze(f"{CLEAN} {TOXIC}")).json()
    assert "spanScores" not in body["attributeScores"]["TOXICITY"]


def test_it_scores_the_text_of_html(client, key):
    body = post(
        client,
        ANALYZE,
        key,
        {"comment": {"text": "<p>Fish &amp; chips</p>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}},
    ).json()
    assert (
        body["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == get_scorer().score("Fish & chips")["TOXICITY"]
    )


def test_it_stores_nothing_for_an_analysis(client, key):
    post(client, ANALYZE, key, coral_analyze(TOXIC, do_not_store=False))
    assert not TrainingLabel.objects.exists()


def test_it_refuses_an_unknown_attribute_in_perspectives_error_shape(client, key):
    response = post(client, ANALYZE, key, {"comment": {"text": CLEAN}, "requestedAttributes": {"FLIRTATION": {}}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert "FLIRTATION" in error["message"]
    assert error["details"][0]["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"


def test_it_drops_unknown_attributes_when_asked(client, key):
    body = post(
        client,
        ANALYZE,
        key,
        {
            "comment": {"text": CLEAN},
            "requestedAttributes": {"FLIRTATION": {}, "TOXICITY": {}},
            "dropUnsupportedAttributes": True,
        },
    ).json()
    assert list(body["attributeScores"]) == ["TOXICITY"]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY"),
        ({"comment": {"text": "   "}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY"),
        ({"requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY"),
        ({"comment": {"text": "ü" * 10_241}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_TOO_LONG"),
        ({"comment": {"text": CLEAN}}, "NO_REQUESTED_ATTRIBUTES"),
        ({"comment": {"text": CLEAN}, "requestedAttributes": {}}, "NO_REQUESTED_ATTRIBUTES"),
        ({"comment": {"text": 42}, "requestedAttributes": {"TOXICITY": {}}}, "INVALID_REQUEST"),
        ({"comment": "text", "requestedAttributes": {"TOXICITY": {}}}, "INVALID_REQUEST"),
        ({"comment": {"text": CLEAN, "type": "PDF"}, "requestedAttributes": {"TOXICITY": {}}}, "INVALID_REQUEST"),
        ({"comment": {"text": CLEAN}, "requestedAttributes": ["TOXICITY"]}, "INVALID_REQUEST"),
        ({"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": 1}}, "INVALID_REQUEST"),
        ({"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}}, "INVALID_REQUEST"),
        (
            {"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": "0.5"}}},
            "INVALID_REQUEST",
        ),
        ({"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}}, "INVALID_REQUEST"),
        ({"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {}}, "languages": 7}, "INVALID_REQUEST"),
        (
            {"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": "yes"},
            "INVALID_REQUEST",
        ),
        ({"comment": {"text": CLEAN}, "requestedAttributes": {"TOXICITY": {}}, "clientToken": 5}, "INVALID_REQUEST"),
        ({"comment": {"text": "\ud800"}, "requestedAttributes": {"TOXICITY": {}}}, "INVALID_REQUEST"),
        ("{not json", "INVALID_REQUEST"),
        ("[1, 2]", "INVALID_REQUEST"),
        ("[" * 100_000, "INVALID_REQUEST"),
        (b"\xff\xfe", "INVALID_REQUEST"),
    ],
)
def test_it_answers_bad_requests_with_400_in_perspectives_shape(client, key, body, error_type):
    response = post(client, ANALYZE, key, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and error["message"]
    assert error["details"][0]["errorType"] == error_type


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=20), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["comment", "requestedAttributes", "languages", "spanAnnotations", "doNotStore", "clientToken",
          "attributeScores", "communityId", "dropUnsupportedAttributes", "context"]  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    url=st.sampled_from([ANALYZE, SUGGEST]),
    body=st.fixed_dictionaries(
        {},
        optional={
            "comment": st.fixed_dictionaries({}, optional={"text": JSON_VALUES | st.text(), "type": JSON_VALUES}),
            "requestedAttributes": st.dictionaries(st.sampled_from(["TOXICITY", "SPAM", "X"]), JSON_VALUES),
            "attributeScores": st.dictionaries(
                st.sampled_from(["TOXICITY", "SPAM", "X"]),
                st.fixed_dictionaries({}, optional={"summaryScore": st.fixed_dictionaries({"value": JSON_VALUES})})
                | JSON_VALUES,
            ),
        },
    ),
    extra=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=4),
)
def test_it_never_fails_on_any_json(client, key, url, body, extra):
    response = post(client, url, key, extra | body)
    assert response.status_code in {200, 400}
    assert set(response.json()) <= {"attributeScores", "languages", "detectedLanguages", "clientToken", "error"}


def test_it_answers_400_to_a_body_over_djangos_limit(client, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post(client, ANALYZE, key, coral_analyze("a" * 20_000))
    assert response.status_code == 400 and response.json()["error"]["details"][0]["errorType"] == "COMMENT_TOO_LONG"


def test_it_accepts_the_longest_comment(client, key):
    response = post(client, ANALYZE, key, coral_analyze("a" * 20 * 1024))
    assert response.status_code == 200


@pytest.mark.parametrize("url", [ANALYZE, SUGGEST])
def test_it_answers_403_without_a_valid_key(client, key, url):
    for query in ["", "?key=", "?key=mod0000", f"?key={key}x"]:
        response = client.post(url + query, json.dumps(coral_analyze(CLEAN)), content_type="application/json")
        assert response.status_code == 403
        assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_it_answers_403_for_a_revoked_key(client, key):
    services.api_key_revoke(api_key_id=services.api_key_authenticate(key=key).pk)
    assert post(client, ANALYZE, key, coral_analyze(CLEAN)).status_code == 403


def test_it_answers_429_over_the_keys_rate_limit(client, site):
    _, key = services.api_key_create(site=site, requests_per_minute=2)
    assert [post(client, ANALYZE, key, coral_analyze(CLEAN)).status_code for _ in range(3)] == [200, 200, 429]
    response = post(client, ANALYZE, key, coral_analyze(CLEAN))
    assert response.json()["error"]["code"] == 429
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_with_the_rate_limits_store_down_it_still_answers(client, site, caplog):
    from django.test import override_settings

    from tests.comments.test_views import DEAD_REDIS_CACHE

    _, key = services.api_key_create(site=site, requests_per_minute=2)
    with override_settings(CACHES=DEAD_REDIS_CACHE):
        assert post(client, ANALYZE, key, coral_analyze(CLEAN)).status_code == 200
    assert "rate limit not applied" in caplog.text


def test_it_counts_the_keys_use(client, key):
    post(client, ANALYZE, key, coral_analyze(CLEAN))
    post(client, SUGGEST, key, coral_suggest(CLEAN, 0))
    assert ApiKey.objects.get().request_count == 2


def test_it_answers_405_to_get(client, key):
    response = client.get(f"{ANALYZE}?key={key}")
    assert response.status_code == 405 and response.json()["error"]["code"] == 405


@pytest.mark.parametrize(("value", "label"), [(1, 1), (0, 0)])
def test_it_stores_corals_suggestion_as_a_label(client, site, key, value, label):
    response = post(client, SUGGEST, key, coral_suggest(TOXIC, value))
    assert response.status_code == 200
    assert response.json() == {"clientToken": "comment:42"}
    stored = TrainingLabel.objects.get()
    assert stored.site == site and stored.text == TOXIC and stored.labels == {"TOXICITY": label}
    assert stored.source == "perspective" and stored.community_id == "Coral:https://planet.example"
    assert stored.client_token == "comment:42" and stored.is_test is False


def test_it_accepts_unknown_keys_and_attributes_in_suggestions(client, key):
    body = coral_suggest(TOXIC, 1) | {
        "attributeScores": {
            "TOXICITY": {"summaryScore": {"value": 1, "type": "PROBABILITY"}, "spanScores": [], "note": "x"},
            "APPROVED": {"summaryScore": {"value": 1}},
            "SPAM": {"spanScores": [{"begin": 0, "end": 3, "score": {"value": 1}}]},
        }
    }
    assert post(client, SUGGEST, key, body).status_code == 200
    assert TrainingLabel.objects.get().labels == {"TOXICITY": 1}


def test_it_stores_no_suggestion_with_do_not_store(client, key):
    response = post(client, SUGGEST, key, coral_suggest(TOXIC, 1) | {"doNotStore": True})
    assert response.status_code == 200 and response.json() == {"clientToken": "comment:42"}
    assert not TrainingLabel.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"attributeScores": {}},
        {"attributeScores": None},
        {"attributeScores": {"TOXICITY": 1}},
        {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 3}}}},
        {"attributeScores": {"TOXICITY": {"summaryScore": {"value": "1"}}}},
        {"attributeScores": {"TOXICITY": {"summaryScore": {"value": True}}}},
        {"comment": {"text": ""}},
        {"communityId": ["x"]},
    ],
)
def test_it_refuses_a_malformed_suggestion(client, key, change):
    response = post(client, SUGGEST, key, coral_suggest(TOXIC, 1) | change)
    assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert not TrainingLabel.objects.exists()


def test_it_stores_a_label_whose_tokens_hold_nul_and_lone_surrogates(client, key):
    body = coral_suggest(CLEAN, 1) | {"clientToken": "tok\u0000en\ud800", "communityId": "\ud83dcom\u0000"}
    response = post(client, SUGGEST, key, body)
    assert response.status_code == 200
    label = TrainingLabel.objects.get()
    assert "\x00" not in label.client_token + label.community_id
    assert label.client_token == "tok\ufffden\ufffd"


def test_span_scores_are_capped_and_the_last_span_covers_the_rest(client, key):
    text = "Idiot. " * 3000  # 21,000 characters of one-word sentences
    body = {"comment": {"text": text[:20_000]}, "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": True}
    response = post(client, ANALYZE, key, body)
    assert response.status_code == 200 and len(response.content) < 100_000
    spans = response.json()["attributeScores"]["TOXICITY"]["spanScores"]
    assert len(spans) == 100
    assert spans[-1]["end"] == len(text[:20_000].rstrip())
