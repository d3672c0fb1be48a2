"""The Perspective API (v1alpha1) for its clients: ``comments:analyze`` and ``comments:suggestscore``.

Clients keep their code and change the base URL to ``https://HOST/v1alpha1`` and the ``key``.
Errors have Google's shape, ``{"error": {"code", "message", "status", "details"}}``. Every
language is scored (the models read characters, and folding look-alike letters means that a
refused script would be a way around moderation); ``detectedLanguages`` is a guess.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, JsonResponse
from django.utils.html import strip_tags
from django.views.decorators.csrf import csrf_exempt

from moderation.compat import services
from moderation.compat.languages import language_detect, sentence_spans
from moderation.compat.models import ApiKey, TrainingLabel

MAX_COMMENT_BYTES = 20 * 1024
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
TEXT_TYPES = {"TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML"}
SCORE_TYPES = {"PROBABILITY", "SCORE_TYPE_UNSPECIFIED"}


class PerspectiveError(Exception):
    def __init__(
        self, message: str, *, code: int = 400, status: str = "INVALID_ARGUMENT", error_type: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.error_type = error_type
        self.retry_after: int | None = None
        self.detail: dict[str, Any] = {}

    def response(self) -> JsonResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.error_type:
            error["details"] = [{"@type": ERROR_TYPE, "errorType": self.error_type, **self.detail}]
        response = JsonResponse({"error": error}, status=self.code)
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def invalid(message: str, error_type: str = "INVALID_REQUEST") -> PerspectiveError:
    return PerspectiveError(message, error_type=error_type)


def request_api_key(request: HttpRequest) -> ApiKey:
    """The request's active key from ``?key=``, counted against its rate limit and usage."""
    key = request.GET.get("key", "")
    if not key:
        raise PerspectiveError(
            "The request is missing a valid API key.", code=403, status="PERMISSION_DENIED", error_type=""
        )
    api_key = services.api_key_authenticate(key=key)
    if api_key is None:
        raise PerspectiveError("API key not valid. Please pass a valid API key.", code=403, status="PERMISSION_DENIED")
    retry_after = services.api_key_throttle(api_key=api_key)
    if retry_after is not None:
        error = PerspectiveError(
            f"Quota exceeded: this key may make {api_key.requests_per_minute} requests a minute.",
            code=429,
            status="RESOURCE_EXHAUSTED",
        )
        error.retry_after = retry_after
        raise error
    services.api_key_use(api_key=api_key)
    return api_key


def request_object(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except SuspiciousOperation:  # larger than DATA_UPLOAD_MAX_MEMORY_SIZE
        raise invalid("The request body is too large.", "COMMENT_TOO_LONG") from None
    except (ValueError, RecursionError):
        raise invalid("Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received: expected an object.")
    return body


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise invalid(f"Invalid value at '{name}'.")
    return value


def comment_text(body: dict[str, Any]) -> str:
    """The comment's text as scored: required, at most 20 KB, HTML reduced to its text."""
    comment = field(body, "comment", dict, {})
    text: str = field(comment, "text", str, "")
    text_type = field(comment, "type", str, "PLAIN_TEXT")
    if text_type not in TEXT_TYPES:
        raise invalid(f"Invalid value at 'comment.type': {text_type[:40]!r}.")
    if text_type == "HTML":
        text = html.unescape(strip_tags(text))
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise invalid("Comment text is not valid Unicode.") from None
    if not text.strip():
        raise invalid("Comment must be non-empty.", "COMMENT_EMPTY")
    if size > MAX_COMMENT_BYTES:
        raise invalid(f"Comment text too long; the limit is {MAX_COMMENT_BYTES} bytes.", "COMMENT_TOO_LONG")
    return text


def request_languages(body: dict[str, Any]) -> list[str]:
    languages = body.get("languages")
    if languages is None:
        return []
    if isinstance(languages, str):  # older clients send "EN"
        languages = [languages]
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise invalid("Invalid value at 'languages': expected a list of language codes.")
    return [code.strip().lower()[:35] for code in languages if code.strip()][:10]


def optional_token(body: dict[str, Any], name: str) -> str | None:
    token = field(body, name, str)
    return None if token is None else token[:500]


@dataclass(frozen=True)
class AnalyzeRequest:
    text: str
    attributes: dict[str, float | None]  # attribute -> scoreThreshold
    languages: list[str]
    detected_languages: list[str]
    span_annotations: bool
    client_token: str | None


def analyze_request_parse(body: dict[str, Any]) -> AnalyzeRequest:
    text = comment_text(body)
    requested = field(body, "requestedAttributes", dict, {})
    if not requested:
        raise invalid("No requested attributes.", "NO_REQUESTED_ATTRIBUTES")
    languages = request_languages(body)
    detected = language_detect(text)
    scored = services.scored_attributes()
    drop_unsupported = field(body, "dropUnsupportedAttributes", bool, False)
    attributes: dict[str, float | None] = {}
    for name, parameters in requested.items():
        if not isinstance(parameters, dict):
            raise invalid(f"Invalid value at 'requestedAttributes[{name[:40]}]': expected an object.")
        if name not in scored:
            if drop_unsupported:
                continue
            error = invalid(
                f"Attribute {name[:40]} does not support request languages: {', '.join(languages or detected)}"
                f" (this server scores {', '.join(scored)}).",
                "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            )
            error.detail = {
                "languageNotSupportedByAttributeError": {"detectedLanguages": detected, "attribute": name[:40]}
            }
            raise error
        score_type = field(parameters, "scoreType", str, "PROBABILITY")
        if score_type not in SCORE_TYPES:
            raise invalid(f"Score type {score_type[:40]} is not supported; use PROBABILITY.")
        threshold = field(parameters, "scoreThreshold", (int, float))
        if threshold is not None and not 0 <= threshold <= 1:
            raise invalid(f"Invalid value at 'requestedAttributes[{name}].scoreThreshold': not from 0 to 1.")
        attributes[name] = threshold
    return AnalyzeRequest(
        text=text,
        attributes=attributes,
        languages=languages or detected,
        detected_languages=detected,
        span_annotations=field(body, "spanAnnotations", bool, False),
        client_token=optional_token(body, "clientToken"),
    )


def probability(value: float) -> dict[str, Any]:
    return {"value": value, "type": "PROBABILITY"}


def attribute_scores(analysis: AnalyzeRequest) -> dict[str, Any]:
    """Score the comment (and each sentence, for span annotations) and keep what clears each threshold."""
    summary = services.text_score(text=analysis.text)
    spans = sentence_spans(analysis.text) if analysis.span_annotations else []
    span_scores = services.texts_score(texts=[analysis.text[begin:end] for begin, end in spans]) if spans else []
    answer: dict[str, Any] = {}
    for name, threshold in analysis.attributes.items():
        floor = threshold or 0.0
        if summary[name] < floor:
            continue
        answer[name] = {"summaryScore": probability(summary[name])}
        if analysis.span_annotations:
            answer[name]["spanScores"] = [
                {"begin": begin, "end": end, "score": probability(scores[name])}
                for (begin, end), scores in zip(spans, span_scores, strict=True)
                if scores[name] >= floor
            ]
    return answer


def suggested_labels(body: dict[str, Any]) -> dict[str, int]:
    """Labels from ``attributeScores``: each known attribute's summary score, 1 at 0.5 or more, else 0."""
    suggested = field(body, "attributeScores", dict, {})
    if not suggested:
        raise invalid("attributeScores must not be empty.")
    scored = set(services.scored_attributes())
    labels = {}
    for name, scores in suggested.items():
        if not isinstance(scores, dict):
            raise invalid(f"Invalid value at 'attributeScores[{name[:40]}]': expected an object.")
        summary = field(scores, "summaryScore", dict)
        if summary is None:
            continue  # span scores only: nothing to learn for the whole comment
        value = field(summary, "value", (int, float))
        if value is None or not 0 <= value <= 1:
            raise invalid(f"Invalid value at 'attributeScores[{name[:40]}].summaryScore.value': not from 0 to 1.")
        if name in scored:
            labels[name] = int(value >= 0.5)
    return labels


def api_view(handler: Callable[[dict[str, Any], ApiKey], JsonResponse]) -> Callable[[HttpRequest], JsonResponse]:
    """Answer POST only, with the key checked first and every PerspectiveError in Google's shape."""

    @csrf_exempt
    def view(request: HttpRequest) -> JsonResponse:
        try:
            if request.method != "POST":
                raise PerspectiveError("Method not allowed: use POST.", code=405, status="UNIMPLEMENTED")
            api_key = request_api_key(request)
            return handler(request_object(request), api_key)
        except PerspectiveError as error:
            return error.response()

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


@api_view
def comments_analyze(body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    """``POST /v1alpha1/comments:analyze``: the requested attributes' scores. Stores nothing."""
    analysis = analyze_request_parse(body)
    answer: dict[str, Any] = {
        "attributeScores": attribute_scores(analysis),
        "languages": analysis.languages,
        "detectedLanguages": analysis.detected_languages,
    }
    if analysis.client_token is not None:
        answer["clientToken"] = analysis.client_token
    return JsonResponse(answer)


@api_view
def comments_suggestscore(body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    """``POST /v1alpha1/comments:suggestscore``: store the suggested scores as a label (unless ``doNotStore``)."""
    text = comment_text(body)
    labels = suggested_labels(body)
    request_languages(body)
    community_id = optional_token(body, "communityId") or ""
    client_token = optional_token(body, "clientToken")
    if labels and not field(body, "doNotStore", bool, False):
        services.training_label_create(
            site=api_key.site,
            api_key=api_key,
            text=text,
            labels=labels,
            source=TrainingLabel.Source.PERSPECTIVE,
            community_id=community_id,
            client_token=client_token or "",
        )
    return JsonResponse({} if client_token is None else {"clientToken": client_token})
