"""Local HTTP servers that answer as Klaviyo's and LINE's APIs document (request and response
shapes, auth headers, batch limits), with faults planted per request: a 429 with Retry-After, a 500,
a 400 with the API's error body. They record every request they accepted, so a test asserts what
arrived.

Klaviyo (revision 2026-10-15): ``Authorization: Klaviyo-API-Key <key>`` and a ``revision`` header;
GET /api/lists?filter=equals(name,"...") and POST /api/lists (JSON:API ``list``);
POST /api/profile-bulk-import-jobs (``profile-bulk-import-job`` with ``attributes.profiles.data``
and ``relationships.lists``; at most 10,000 profiles) answers 202 with the job; errors are
``{"errors": [{"status", "code", "title", "detail", "source"}]}``.
LINE Messaging API: ``Authorization: Bearer <channel access token>``; GET /v2/bot/audienceGroup/list,
POST /v2/bot/audienceGroup/upload (create with ``description``, ``isIfaAudience``,
``uploadDescription``, ``audiences``: at most 10,000) answers 202 with ``audienceGroupId``,
PUT /v2/bot/audienceGroup/upload (``audienceGroupId``, ``audiences``) answers 202 ``{}``; errors are
``{"message": ..., "details": [...]}``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, unquote, urlparse

KLAVIYO_KEY = "pk_test_0123456789abcdef"
LINE_TOKEN = "line-test-channel-access-token"
DOCUMENTED_BATCH_LIMIT = 10000


@dataclass
class Fake:
    """State of one fake API: what it accepted and the faults still to answer."""

    batch_limit: int = DOCUMENTED_BATCH_LIMIT
    # (method, path) -> answers to give before behaving: [(status, headers, body)]
    faults: dict[tuple[str, str], list[tuple[int, dict, dict]]] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)  # every request, answered or not
    lists: dict[str, str] = field(default_factory=dict)  # Klaviyo: name -> id
    imports: list[dict] = field(default_factory=list)  # Klaviyo: {list_id, profiles}
    groups: dict[int, dict] = field(default_factory=dict)  # LINE: id -> {description, ids}
    bad_auth: int = 0
    times: list[float] = field(default_factory=list)

    def plant(self, method: str, path: str, *answers: tuple[int, dict, dict]) -> None:
        self.faults.setdefault((method, path), []).extend(answers)


def _klaviyo_error(status: int, code: str, title: str, detail: str) -> dict:
    return {
        "errors": [
            {
                "id": "e4eebb08-b055-4a6f-bb13-c8cb69c9eb94",
                "status": status,
                "code": code,
                "title": title,
                "detail": detail,
                "source": {"pointer": "/data/"},
            }
        ]
    }


def _handler(fake: Fake, kind: str):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, body: dict | None, headers: dict | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if kind == "line" else "application/vnd.api+json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if length else None
            fake.requests.append({"method": method, "path": url.path, "query": url.query, "body": body})
            fake.times.append(time.monotonic())
            auth = self.headers.get("Authorization", "")
            if kind == "klaviyo":
                if auth != f"Klaviyo-API-Key {KLAVIYO_KEY}" or not self.headers.get("revision"):
                    fake.bad_auth += 1
                    return self._answer(
                        401,
                        _klaviyo_error(401, "not_authenticated", "Authentication credentials were not provided.", ""),
                    )
            elif auth != f"Bearer {LINE_TOKEN}":
                fake.bad_auth += 1
                return self._answer(401, {"message": "Authentication failed. Confirm that the access token."})
            planted = fake.faults.get((method, url.path))
            if planted:
                status, headers, answer = planted.pop(0)
                return self._answer(status, answer, headers)
            return (self._klaviyo if kind == "klaviyo" else self._line)(method, url, body)

        def _klaviyo(self, method: str, url, body) -> None:
            if method == "GET" and url.path == "/api/lists":
                wanted = re.match(r'equals\(name,"(.*)"\)$', unquote(parse_qs(url.query).get("filter", [""])[0]))
                data = [
                    {"type": "list", "id": i, "attributes": {"name": n}}
                    for n, i in fake.lists.items()
                    if wanted is None or n == wanted.group(1)
                ]
                return self._answer(200, {"data": data, "links": {"self": url.path, "next": None, "prev": None}})
            if method == "POST" and url.path == "/api/lists":
                name = body["data"]["attributes"]["name"]
                assert body["data"]["type"] == "list"
                list_id = f"L{len(fake.lists) + 1:05d}"
                fake.lists[name] = list_id
                return self._answer(
                    201,
                    {
                        "data": {
                            "type": "list",
                            "id": list_id,
                            "attributes": {
                                "name": name,
                                "created": "2025-06-30T00:00:00+00:00",
                                "updated": "2025-06-30T00:00:00+00:00",
                                "opt_in_process": "single_opt_in",
                            },
                            "links": {"self": f"/api/lists/{list_id}/"},
                        }
                    },
                )
            if method == "POST" and url.path == "/api/profile-bulk-import-jobs":
                data = body["data"]
                profiles = data["attributes"]["profiles"]["data"]
                if data["type"] != "profile-bulk-import-job" or len(profiles) > fake.batch_limit:
                    return self._answer(
                        400,
                        _klaviyo_error(400, "invalid", "Invalid input.", f"At most {fake.batch_limit} profiles."),
                    )
                lists = [r["id"] for r in data["relationships"]["lists"]["data"]]
                fake.imports.append({"lists": lists, "profiles": profiles})
                job = f"J{len(fake.imports):05d}"
                return self._answer(
                    202,
                    {
                        "data": {
                            "type": "profile-bulk-import-job",
                            "id": job,
                            "attributes": {
                                "status": "queued",
                                "created_at": "2025-06-30T00:00:00+00:00",
                                "total_count": len(profiles),
                                "completed_count": 0,
                                "failed_count": 0,
                                "completed_at": None,
                                "expires_at": "2025-07-07T00:00:00+00:00",
                                "started_at": None,
                            },
                            "links": {"self": f"/api/profile-bulk-import-jobs/{job}/"},
                        }
                    },
                )
            return self._answer(404, _klaviyo_error(404, "not_found", "Not found.", url.path))

        def _line(self, method: str, url, body) -> None:
            if method == "GET" and url.path == "/v2/bot/audienceGroup/list":
                q = parse_qs(url.query)
                wanted = q.get("description", [""])[0].lower()
                groups = [
                    {
                        "audienceGroupId": gid,
                        "type": "UPLOAD",
                        "description": g["description"],
                        "status": "READY",
                        "audienceCount": len(g["ids"]),
                        "created": 1751241600,
                        "permission": "READ_WRITE",
                        "createRoute": "MESSAGING_API",
                        "isIfaAudience": False,
                    }
                    for gid, g in fake.groups.items()
                    if wanted in g["description"].lower()
                ]
                return self._answer(
                    200,
                    {
                        "audienceGroups": groups,
                        "hasNextPage": False,
                        "totalCount": len(groups),
                        "readWriteAudienceGroupTotalCount": len(groups),
                        "page": int(q.get("page", ["1"])[0]),
                        "size": int(q.get("size", ["20"])[0]),
                    },
                )
            if url.path == "/v2/bot/audienceGroup/upload" and method in ("POST", "PUT"):
                ids = [a["id"] for a in body.get("audiences") or []]
                if len(ids) > fake.batch_limit:
                    return self._answer(
                        400,
                        {
                            "message": "The request body has 1 error(s)",
                            "details": [{"message": "size must be between 0 and 10000", "property": "audiences"}],
                        },
                    )
                if method == "POST":
                    gid = 1000 + len(fake.groups) + 1
                    fake.groups[gid] = {"description": body["description"], "ids": list(ids)}
                    return self._answer(
                        202,
                        {
                            "audienceGroupId": gid,
                            "createRoute": "MESSAGING_API",
                            "type": "UPLOAD",
                            "description": body["description"],
                            "created": 1751241600,
                            "permission": "READ_WRITE",
                            "expireTimestamp": 1766793600,
                            "isIfaAudience": False,
                        },
                    )
                group = fake.groups.get(body.get("audienceGroupId"))
                if group is None:
                    return self._answer(400, {"message": "audience group not found"})
                group["ids"].extend(ids)
                return self._answer(202, {})
            return self._answer(404, {"message": "Not found"})

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PUT(self):
            self._handle("PUT")

    return Handler


class Server:
    """One fake API on 127.0.0.1 (a free port), in a thread; ``url`` is its base URL."""

    def __init__(self, kind: str, fake: Fake | None = None):
        self.fake = fake or Fake()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake, kind))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
