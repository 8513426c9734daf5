"""The Dagster UI of `crm ui`: dagster-webserver on this project, read-only unless launching runs
is allowed, and never changing anything on a request a web page of another site can send.

dagster-webserver (1.13) executes a GraphQL request given in the URL as well as in a JSON body: a
GET ``/graphql?query=mutation{...}`` (an <img> or a link on any page the user opens) deletes a run
or launches one, and so does a POST whose body is a form (a <form> on any site) with the query in
its URL. A browser sends those to 127.0.0.1 without asking; a POST with a JSON or GraphQL body from
another site needs the server's consent first (a CORS preflight, which the webserver does not give).
So ``refuse_mutations_outside_json_posts`` answers 405 to any mutation that does not come in the
body of a JSON / GraphQL POST, in both modes. Read-only mode (the default) is dagster-webserver's
own ``read_only``: every mutation is refused, whatever its method.

    python -m orchestration.pipeline.webserver --port 3000 [--allow-launch]
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import parse_qs

from graphql import OperationType, parse
from graphql.error import GraphQLError

BODY_TYPES = ("application/json", "application/graphql")


def has_mutation(query: str) -> bool:
    """True when the GraphQL document ``query`` defines a mutation (a document that does not parse
    defines none: the webserver refuses it itself)."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    return any(getattr(d, "operation", None) == OperationType.MUTATION for d in document.definitions)


def refuse_mutations_outside_json_posts(app, path_prefix: str = ""):
    """ASGI middleware around the webserver: a request to ``<prefix>/graphql`` whose query comes
    from the URL (a GET, or a POST whose body is not JSON / GraphQL) and holds a mutation is
    answered 405 without reaching the webserver."""
    graphql_path = f"{path_prefix}/graphql"

    async def guarded(scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") == graphql_path:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            in_body = scope["method"] == "POST" and headers.get("content-type", "").split(";")[0].strip() in BODY_TYPES
            if not in_body:
                params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                if any(has_mutation(q) for q in params.get("query", [])):
                    body = json.dumps(
                        {
                            "errors": [
                                {
                                    "message": (
                                        "A GraphQL mutation is accepted only in the JSON body of a POST request, "
                                        "never from the URL (a link or a form of another site could send it)."
                                    )
                                }
                            ]
                        }
                    ).encode()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 405,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"allow", b"POST"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await app(scope, receive, send)

    return guarded


def serve(
    host: str,
    port: int,
    allow_launch: bool,
    module: str = "orchestration.pipeline.definitions",
    working_directory: str | None = None,
) -> None:
    """Serve the UI of the code location ``module`` on the instance of $DAGSTER_HOME until stopped."""
    import uvicorn
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    instance = DagsterInstance.get()
    target = ModuleTarget(module_name=module, attribute=None, working_directory=working_directory, location_name=None)
    with WorkspaceProcessContext(instance, target, version=__version__, read_only=not allow_launch) as context:
        app = create_app_from_workspace_process_context(context, "")
        uvicorn.run(refuse_mutations_outside_json_posts(app), host=host, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The Dagster UI of this project.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--allow-launch", action="store_true")
    parser.add_argument("--working-directory", default=None)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.allow_launch, working_directory=args.working_directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
