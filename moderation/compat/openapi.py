"""The compatibility APIs in the OpenAPI schema (a drf-spectacular postprocessing hook).

Their views are plain Django views that answer in Google's and Akismet's shapes, so spectacular cannot
see them: their operations are written here, next to the views they describe, and added to the schema.
"""

from __future__ import annotations

from typing import Any

PERSPECTIVE_SCHEME = "perspectiveKey"
AKISMET_SCHEME = "akismetKey"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    PERSPECTIVE_SCHEME: {
        "type": "apiKey",
        "in": "query",
        "name": "key",
        "description": "A site's API key (`manage.py create_api_key`), as Perspective clients send it: `?key=`.",
    },
    AKISMET_SCHEME: {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": "A site's API key (`manage.py create_api_key`). Akismet clients send it as the `api_key` "
        "field of the form or JSON body (`key` for verify-key), which is accepted like the query parameter; "
        "older clients put it in the host name's first label (`KEY.comments.example.org`), where ALLOWED_HOSTS "
        "lets such a host in.",
    },
}

PERSPECTIVE_ERROR = {
    "type": "object",
    "description": "Google's error shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "integer", "example": 400},
                "message": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["INVALID_ARGUMENT", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "UNIMPLEMENTED"],
                },
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "@type": {"type": "string"},
                            "errorType": {
                                "type": "string",
                                "enum": [
                                    "COMMENT_EMPTY",
                                    "COMMENT_TOO_LONG",
                                    "NO_REQUESTED_ATTRIBUTES",
                                    "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                                    "LANGUAGE_DETECTION_FAILED",
                                    "INVALID_REQUEST",
                                ],
                            },
                        },
                    },
                },
            },
            "required": ["code", "message", "status"],
        }
    },
    "required": ["error"],
}

SCORE = {
    "type": "object",
    "properties": {"value": {"type": "number", "minimum": 0, "maximum": 1}, "type": {"type": "string"}},
}
TEXT_ENTRY = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "type": {"type": "string", "enum": ["PLAIN_TEXT"]}},
}
COMMON_FIELDS: dict[str, Any] = {
    "comment": {**TEXT_ENTRY, "required": ["text"]},
    "context": {"type": "object", "properties": {"entries": {"type": "array", "items": TEXT_ENTRY}}},
    "languages": {"type": "array", "items": {"type": "string"}, "example": ["en"]},
    "doNotStore": {"type": "boolean"},
    "clientToken": {"type": "string"},
}


def perspective_errors() -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/PerspectiveError"}}}
    return {
        "400": {"description": "A bad request (errorType says which).", "content": error},
        "403": {"description": "No key, or not a valid one (PERMISSION_DENIED).", "content": error},
        "405": {"description": "Not a POST (UNIMPLEMENTED).", "content": error},
        "429": {
            "description": "Over the key's requests a minute (RESOURCE_EXHAUSTED).",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": error,
        },
    }


def perspective_operation(
    operation_id: str, summary: str, description: str, request: dict[str, Any], answer: dict[str, Any]
) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["perspective"],
        "security": [{PERSPECTIVE_SCHEME: []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {
            "200": {"description": "", "content": {"application/json": {"schema": answer}}},
            **perspective_errors(),
        },
    }


ANALYZE = perspective_operation(
    "perspective_comments_analyze",
    "Perspective: score a comment",
    "Perspective's `comments:analyze`: the requested attributes' scores from this server's models. Stores "
    "nothing. An attribute scoring under its scoreThreshold is left out; spanScores only with spanAnnotations.",
    {
        "type": "object",
        "required": ["comment", "requestedAttributes"],
        "properties": {
            **COMMON_FIELDS,
            "requestedAttributes": {
                "type": "object",
                "description": "Attribute name to options ({} is valid), e.g. TOXICITY, SEVERE_TOXICITY, "
                "IDENTITY_ATTACK, INSULT, PROFANITY, THREAT, SPAM.",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "scoreType": {"type": "string", "enum": ["PROBABILITY"]},
                        "scoreThreshold": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                },
            },
            "spanAnnotations": {"type": "boolean"},
            "dropUnsupportedAttributes": {"type": "boolean"},
            "sessionId": {"type": "string"},
        },
    },
    {
        "type": "object",
        "properties": {
            "attributeScores": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "summaryScore": SCORE,
                        "spanScores": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "begin": {"type": "integer"},
                                    "end": {"type": "integer"},
                                    "score": SCORE,
                                },
                            },
                        },
                    },
                },
            },
            "languages": {"type": "array", "items": {"type": "string"}},
            "detectedLanguages": {"type": "array", "items": {"type": "string"}},
            "clientToken": {"type": "string"},
        },
    },
)

SUGGEST = perspective_operation(
    "perspective_comments_suggestscore",
    "Perspective: suggest a score",
    "Perspective's `comments:suggestscore`: each known attribute's summary score is stored as a training label "
    "(1 at 0.5 or more, else 0) unless doNotStore is true.",
    {
        "type": "object",
        "required": ["comment", "attributeScores"],
        "properties": {
            **COMMON_FIELDS,
            "attributeScores": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"summaryScore": SCORE}},
            },
            "communityId": {"type": "string", "example": "Coral:https://example.org"},
        },
    },
    {"type": "object", "properties": {"clientToken": {"type": "string"}}},
)

AKISMET_FIELDS: dict[str, Any] = {
    "api_key": {"type": "string", "description": "The key (or in the query string, or the host name)."},
    "blog": {"type": "string", "description": "The site's URL."},
    "user_ip": {"type": "string"},
    "user_agent": {"type": "string"},
    "referrer": {"type": "string"},
    "permalink": {"type": "string"},
    "comment_type": {"type": "string", "example": "comment"},
    "comment_author": {"type": "string"},
    "comment_author_email": {"type": "string"},
    "comment_author_url": {"type": "string"},
    "comment_content": {"type": "string"},
    "comment_date_gmt": {"type": "string"},
    "comment_post_modified_gmt": {"type": "string"},
    "blog_lang": {"type": "string"},
    "blog_charset": {"type": "string"},
    "user_role": {"type": "string", "description": "administrator: always false."},
    "is_test": {"type": "string", "description": "1: keep the call out of training."},
    "recheck_reason": {"type": "string"},
    "honeypot_field_name": {"type": "string"},
}
AKISMET_ERRORS: dict[str, Any] = {
    "405": {"description": "Another method.", "content": {"text/plain": {"schema": {"type": "string"}}}},
    "429": {
        "description": "Over the key's requests a minute.",
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}},
            "X-akismet-alert-code": {"schema": {"type": "string", "example": "10008"}},
            "X-akismet-alert-msg": {"schema": {"type": "string"}},
        },
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}
DEBUG_HELP = {
    "X-akismet-debug-help": {
        "description": "With `invalid`: why (a bad key, a missing field, an unreadable body).",
        "schema": {"type": "string"},
    }
}


def akismet_operation(
    operation_id: str,
    summary: str,
    description: str,
    required: list[str],
    answers: list[str],
    *,
    method: str = "post",
    headers: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Akismet call: its answer or `invalid` (with status 200, as Akismet answers a bad key or field)."""
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description + " A bad key or a missing field answers `invalid` with status 200, as "
        "Akismet does, and says why in X-akismet-debug-help.",
        "tags": ["akismet"],
        "security": [{AKISMET_SCHEME: []}],
        "responses": {
            "200": {
                "description": f"{' or '.join(answers)}, or invalid",
                "headers": {**DEBUG_HELP, **(headers or {})},
                "content": {"text/plain": {"schema": {"type": "string", "enum": [*answers, "invalid"]}}},
            },
            **AKISMET_ERRORS,
        },
    }
    if method == "post":
        body = {"type": "object", "required": required, "properties": fields or AKISMET_FIELDS}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": body}, "application/json": {"schema": body}},
        }
    return operation


THANKS = "Thanks for making the web a better place."
PRO_TIP = {
    "X-akismet-pro-tip": {
        "description": "discard: blatant spam that can be dropped unseen.",
        "schema": {"type": "string", "enum": ["discard"]},
    }
}
USAGE = {
    "type": "object",
    "properties": {
        "limit": {"type": "string", "example": "none"},
        "usage": {"type": "integer"},
        "percentage": {"type": "string"},
        "throttled": {"type": "boolean"},
    },
}
USAGE_LIMIT = {
    "operationId": "akismet_usage_limit",
    "summary": "Akismet: this month's calls",
    "description": "Akismet 1.2's usage report for the key: this month's calls; there is no monthly limit, "
    "only the per-minute one. POST is accepted too.",
    "tags": ["akismet"],
    "security": [{AKISMET_SCHEME: []}],
    "responses": {
        "200": {
            "description": "The usage, or invalid (text/plain) for a bad key.",
            "headers": DEBUG_HELP,
            "content": {
                "application/json": {"schema": USAGE},
                "text/plain": {"schema": {"type": "string", "enum": ["invalid"]}},
            },
        },
        **AKISMET_ERRORS,
    },
}

PATHS: dict[str, dict[str, Any]] = {
    "/v1alpha1/comments:analyze": {"post": ANALYZE},
    "/v1alpha1/comments:suggestscore": {"post": SUGGEST},
    "/1.1/verify-key": {
        "post": akismet_operation(
            "akismet_verify_key",
            "Akismet: check a key",
            "valid for an active key.",
            ["key", "blog"],
            ["valid"],
            fields={"key": {"type": "string"}, "blog": {"type": "string"}},
        )
    },
    "/1.1/comment-check": {
        "post": akismet_operation(
            "akismet_comment_check",
            "Akismet: is it spam?",
            "true for spam (with X-akismet-pro-tip: discard if blatant), else false. Stores nothing.",
            ["api_key", "blog", "user_ip"],
            ["true", "false"],
            headers=PRO_TIP,
        )
    },
    "/1.1/submit-spam": {
        "post": akismet_operation(
            "akismet_submit_spam",
            "Akismet: this was spam",
            "Store the correction as a SPAM training label (not with is_test).",
            ["api_key", "blog"],
            [THANKS],
        )
    },
    "/1.1/submit-ham": {
        "post": akismet_operation(
            "akismet_submit_ham",
            "Akismet: this was not spam",
            "Store the correction as a not-SPAM training label (not with is_test).",
            ["api_key", "blog"],
            [THANKS],
        )
    },
    "/1.2/usage-limit": {"get": USAGE_LIMIT},
}


def compat_paths_add(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add the Perspective and Akismet operations, their key schemes and their error shape."""
    result.setdefault("paths", {}).update(PATHS)
    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("schemas", {})["PerspectiveError"] = PERSPECTIVE_ERROR
    tags = result.setdefault("tags", [])
    tags.append({"name": "perspective", "description": "Perspective API v1alpha1, for its clients (Coral Talk)."})
    tags.append({"name": "akismet", "description": "Akismet 1.1 (and 1.2's usage report), for its clients."})
    return result
