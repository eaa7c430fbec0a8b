"""The OpenAPI document (hand-written paths, body schemas from the pydantic models)."""

from __future__ import annotations

import html
from typing import Any

from pydantic import BaseModel

from cc_router.http.bodies import MoveBody, PauseBody, PriorityBody, QueuePatch, ReasonBody, SkillsBody

_ERR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ACTION_ERRORS = {
    "400": {**_ERR, "description": "body is not JSON"},
    "401": {**_ERR, "description": "missing or wrong bearer token"},
    "403": {**_ERR, "description": "no API token configured: actions disabled"},
    "404": {**_ERR, "description": "unknown agent, queue or interaction"},
    "409": {**_ERR, "description": "the router refused the change (reason given)"},
    "422": {**_ERR, "description": "invalid body (field errors given)"},
}
_OK = {"200": {"description": "done", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _read(summary: str, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params or [], "responses": {**_OK, "401": _ERR}}}


def _action(
    method: str, summary: str, body: type[BaseModel] | None, params: list[dict[str, Any]]
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": params,
        "responses": {**_OK, **_ACTION_ERRORS},
    }
    if body is not None:
        op["requestBody"] = {
            "required": body not in (PauseBody, ReasonBody),
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
        }
    return {method: op}


_AGENT_FILTER: list[dict[str, Any]] = [
    {"name": "queue", "in": "query", "schema": {"type": "string"}},
    {"name": "pool", "in": "query", "schema": {"type": "string"}},
    {"name": "channel", "in": "query", "schema": {"type": "string"}},
    {
        "name": "state",
        "in": "query",
        "description": "comma-separated states, or not_ready (paused, wrap_up) / logged_in",
        "schema": {"type": "string"},
    },
    {"name": "search", "in": "query", "description": "part of the id or name", "schema": {"type": "string"}},
    {"name": "logged_out", "in": "query", "schema": {"type": "boolean", "default": True}},
]


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document(title: str) -> dict[str, Any]:
    agent = [_path_param("agent_id")]
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    }
    for model in (PauseBody, ReasonBody, SkillsBody, QueuePatch, MoveBody, PriorityBody):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    paths: dict[str, Any] = {
        "/api/queues": _read(
            "Queues: waiting, longest wait, agents by state, today's and the interval's figures"
        ),
        "/api/channels": _read(
            "Per channel: waiting, longest wait, agents by state, capacity slots used/total, today's figures"
        ),
        "/api/agents": _read(
            "Agents in attention order (paused, wrap-up first; longest in state first): state, reason,"
            " time in state, interactions, load per channel, skills; total and counts by state",
            [
                *_AGENT_FILTER,
                {"name": "limit", "in": "query", "schema": {"type": "string", "default": "all"}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
            ],
        ),
        "/api/agents/{agent_id}": _read("One agent", agent),
        "/api/interactions": _read(
            "Waiting interactions with their position and expected wait (`ewt_s`, null when unknown)",
            [
                {"name": "queue", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "string", "default": "500"}},
            ],
        ),
        "/api/stream": _read(
            "Server-sent events: `snapshot`, then `update` on every change; agents: one page"
            " (filters as /api/agents), then ids of the page and rows only for changed agents",
            [*_AGENT_FILTER, {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 200}}],
        ),
        "/api/agents/{agent_id}/pause": _action("post", "Pause an agent", PauseBody, agent),
        "/api/agents/{agent_id}/unpause": _action("post", "Unpause an agent", ReasonBody, agent),
        "/api/agents/{agent_id}/login": _action("post", "Log an agent in", None, agent),
        "/api/agents/{agent_id}/logout": _action("post", "Log an agent out", ReasonBody, agent),
        "/api/agents/{agent_id}/skills": _action("put", "Replace an agent's skills", SkillsBody, agent),
        "/api/queues/{name}": {
            **_read("One queue, with its waiting interactions", [_path_param("name")]),
            **_action(
                "patch", "Change a queue's priority or escalation steps", QueuePatch, [_path_param("name")]
            ),
        },
        "/api/interactions/{interaction_id}/move": _action(
            "post", "Move a waiting interaction to another queue", MoveBody, [_path_param("interaction_id")]
        ),
        "/api/interactions/{interaction_id}/priority": _action(
            "post",
            "Change a waiting interaction's priority (its place in every queue follows)",
            PriorityBody,
            [_path_param("interaction_id")],
        ),
        "/api/config/reload": _action(
            "post", "Re-read the config file (422 and unchanged if it has errors)", None, []
        ),
        "/api/audit": _read(
            "Supervisor actions, newest first: who, what, when, target, before -> after, reason",
            [
                {"name": n, "in": "query", "schema": {"type": "string"}}
                for n in ("limit", "action", "target_kind", "target", "user", "since")
            ],
        ),
        "/api/console/config": _read("The console's user, queues (priority, steps), skills, pause reasons"),
        "/api/recordings": _read("Recorded calls of the reader's queues, newest first"),
        "/api/recordings/{interaction_id}": _read(
            "A call's recording (audio/wav, range requests; `?token=` accepted)",
            [_path_param("interaction_id")],
        ),
        "/api/agents/{agent_id}/monitor": {
            "post": {
                "summary": 'Listen, whisper or barge on the agent\'s call on your phone ({"mode": ...})',
                "security": [{"bearer": []}],
                "parameters": agent,
                "responses": {**_OK, **_ACTION_ERRORS},
            },
            "delete": {
                "summary": "Stop listening",
                "security": [{"bearer": []}],
                "parameters": agent,
                "responses": {**_OK, **_ACTION_ERRORS},
            },
        },
        "/api/monitors": _read("Supervisors listening now, per agent"),
        "/metrics": _read("Prometheus metrics"),
        "/livez": {"get": {"summary": "The process is alive", "responses": _OK}},
        "/readyz": {
            "get": {
                "summary": "Ready: AMI nodes, store and MQTT (if used) are up; 503 otherwise",
                "responses": {**_OK, "503": {"description": "not ready (checks listed)"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} control API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def docs_page(doc: dict[str, Any]) -> str:
    """A plain HTML listing of the API (no CDN for Swagger UI on an offline floor)."""
    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = body.get("$ref", "").rsplit("/", 1)[-1]
            auth = "token" if op.get("security") else ""
            rows.append(
                f"<tr><td class=m>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td><td>{html.escape(ref)}</td><td>{auth}</td></tr>"
            )
    title = html.escape(doc["info"]["title"])
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>"
        f"{title}</title><style>body{{font-family:sans-serif;background:#111;color:#ddd;margin:2em}}"
        "td{padding:.3em .8em;border-bottom:1px solid #333}.m{font-weight:bold;color:#7cf}"
        "code{color:#fd7}</style></head><body>"
        f"<h1>{title}</h1><p>Machine-readable: <a href=/openapi.json style=color:#7cf>/openapi.json</a>. "
        "Actions need <code>Authorization: Bearer &lt;token&gt;</code>.</p><table>"
        "<tr><th>Method</th><th>Path</th><th>What</th><th>Body</th><th>Auth</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
