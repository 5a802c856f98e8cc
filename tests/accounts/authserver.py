"""A real OAuth 2 authorisation server on 127.0.0.1 for the accounts tests,
built on authlib's server side (Flask): the authorisation-code grant with
PKCE, the refresh-token grant with rotation, revocation (RFC 7009), bearer
tokens checked by authlib's ResourceProtector, and expiry the test controls.

It also plays each platform's few non-OAuth parts that connect and refresh
need: X's /2/users/me and /2/tweets, LinkedIn's /v2/userinfo, Mastodon's app
registration and verify_credentials, Threads' long-lived exchange, refresh
and /me. `faults` makes the token endpoint answer 503 to the next
requests; `counts` says what it served.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)

USER = {"id": "4242", "username": "club_account", "name": "The Club"}


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str | None
    redirect_uris: list[str] = field(default_factory=list)
    auth_method: str = "client_secret_post"
    # True: any loopback port is a match (RFC 8252 section 7.3).
    loopback_any_port: bool = True
    #: Mastodon's tokens: no expiry, no refresh token.
    forever: bool = False

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.redirect_uris:
            return True
        return self.loopback_any_port and redirect_uri.startswith("http://127.0.0.1:")

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(
            client_secret, self.client_secret
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.auth_method
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    user: dict[str, Any]

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):
    client_id: str
    user: dict[str, Any]
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> dict[str, Any]:
        return self.user

    def get_client(self) -> Client:  # pragma: no cover - authlib asks only in some flows
        raise NotImplementedError


class AuthServer:
    """The server and its state; `url` is its base (http://127.0.0.1:PORT)."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: list[Token] = []
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.faults: list[str] = []
        self.expires_in = {"authorization_code": 7200, "refresh_token": 7200}
        #: False: an old refresh token stays good until its successor is used.
        self.strict_rotation = True
        #: Called before a refresh is answered (a test holds the answer until
        #: what it waits for has happened, e.g. a second daemon waiting on a lock).
        self.before_refresh: Callable[[], None] | None = None
        self.deny = False
        self.tamper_state = False
        self.issue_refresh = True
        self.posts: list[dict[str, Any]] = []
        self.app = self._app()
        self._http = make_server("127.0.0.1", 0, self.app, threaded=True)
        # Stopping must not wait for idle keep-alive connections to time out.
        self._http.daemon_threads = True
        self._http.block_on_close = False
        self.url = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- state the tests use -----------------------------------------------------------

    def add_client(self, client_id: str, secret: str | None, auth_method: str) -> Client:
        client = Client(client_id, secret, auth_method=auth_method)
        self.clients[client_id] = client
        return client

    def token(self, access_token: str) -> Token | None:
        return next((t for t in self.tokens if t.access_token == access_token), None)

    def expire(self, access_token: str) -> None:
        token = self.token(access_token)
        assert token is not None
        token.issued_at -= token.expires_in + 1

    def revoke_everything(self) -> None:
        """The user removed the app: every token and refresh token is dead."""
        for token in self.tokens:
            token.revoked = token.refresh_revoked = True

    def start(self) -> AuthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    # -- the Flask app -----------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask(__name__)
        outer = self

        def save_token(token: dict[str, Any], req: Any) -> None:
            with outer.lock:
                outer.tokens.append(
                    Token(
                        client_id=req.client.client_id,
                        user=req.user,
                        access_token=token["access_token"],
                        refresh_token=token.get("refresh_token"),
                        scope=token.get("scope", ""),
                        expires_in=int(token.get("expires_in") or 10**9),
                    )
                )

        server = AuthorizationServer(app, query_client=self.clients.get, save_token=save_token)

        class Generator(BearerTokenGenerator):
            """Expiry read from `expires_in` at each grant; refresh tokens unless
            `issue_refresh` is off (LinkedIn's unapproved apps)."""

            def generate(self, grant_type, client, user=None, scope=None, expires_in=None,
                         include_refresh_token=True):  # fmt: skip
                if client.forever:
                    return super().generate(grant_type, client, user, scope, 0, False)
                return super().generate(
                    grant_type, client, user, scope, outer.expires_in[grant_type],
                    include_refresh_token and outer.issue_refresh,
                )  # fmt: skip

        server.register_token_generator(
            "default",
            Generator(
                access_token_generator=lambda **kw: secrets.token_urlsafe(32),
                refresh_token_generator=lambda **kw: secrets.token_urlsafe(32),
            ),
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]

            def save_authorization_code(self, code: str, req: Any) -> None:
                outer.codes[code] = Code(
                    code,
                    req.client.client_id,
                    req.payload.redirect_uri,
                    req.payload.scope,
                    req.payload.data.get("code_challenge"),
                    req.payload.data.get("code_challenge_method"),
                    req.user,
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = outer.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, code: Code) -> None:
                outer.codes.pop(code.code, None)

            def authenticate_user(self, code: Code) -> dict[str, Any]:
                return code.user

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation, as X does

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                with outer.lock:
                    for token in outer.tokens:
                        if token.refresh_token == refresh_token and not token.refresh_revoked:
                            return token
                return None

            def authenticate_user(self, credential: Token) -> dict[str, Any]:
                return credential.user

            def revoke_old_credential(self, credential: Token) -> None:
                outer.counts["refresh"] += 1
                if outer.strict_rotation:
                    credential.refresh_revoked = True

        class Revocation(RevocationEndpoint):
            CLIENT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]

            def query_token(self, token_string: str, hint: str | None) -> Token | None:
                for token in outer.tokens:
                    if token_string in (token.access_token, token.refresh_token):
                        return token
                return None

            def revoke_token(self, token: Token, req: Any) -> None:
                token.revoked = token.refresh_revoked = True

        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)
        server.register_endpoint(Revocation)

        class Validator(BearerTokenValidator):
            def authenticate_token(self, token_string: str) -> Token | None:
                return outer.token(token_string)

        protect = ResourceProtector()
        protect.register_token_validator(Validator())

        @app.get("/i/oauth2/authorize")
        @app.get("/oauth/v2/authorization")
        @app.get("/oauth/authorize")
        def authorize() -> Any:
            outer.counts["authorize"] += 1
            if outer.deny:
                target = request.args["redirect_uri"]
                return redirect(f"{target}?error=access_denied&state={request.args['state']}")
            response = server.create_authorization_response(grant_user=USER)
            if outer.tamper_state:
                # A callback that is not the answer to our request.
                location = response.headers["Location"]
                response.headers["Location"] = location.replace(
                    f"state={request.args['state']}", "state=forged"
                )
            return response

        @app.post("/2/oauth2/token")
        @app.post("/oauth/v2/accessToken")
        @app.post("/oauth/access_token")
        @app.post("/oauth/token")
        def token() -> Any:
            outer.counts["token"] += 1
            if outer.faults:
                outer.faults.pop(0)
                return ("upstream unavailable", 503)
            if request.form.get("grant_type") == "refresh_token" and outer.before_refresh:
                outer.before_refresh()
            return server.create_token_response()

        @app.post("/oauth/revoke")
        def revoke() -> Any:
            return server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)

        # -- X ---------------------------------------------------------------------------
        @app.get("/2/users/me")
        @protect()
        def x_me() -> Any:
            return jsonify({"data": current_token.user})

        @app.post("/2/tweets")
        @protect()
        def x_tweet() -> Any:
            outer.posts.append(request.get_json())
            return jsonify({"data": {"id": str(1000 + len(outer.posts)), "text": "ok"}}), 201

        # -- LinkedIn ----------------------------------------------------------------------
        @app.get("/v2/userinfo")
        @protect()
        def linkedin_me() -> Any:
            user = current_token.user
            return jsonify({"sub": user["id"], "name": user["name"]})

        # -- Mastodon ----------------------------------------------------------------------
        @app.post("/api/v1/apps")
        def mastodon_apps() -> Any:
            client_id = secrets.token_urlsafe(12)
            client = outer.add_client(client_id, secrets.token_urlsafe(24), "client_secret_post")
            client.redirect_uris = [request.form["redirect_uris"]]
            client.loopback_any_port = False
            client.forever = True
            outer.counts["apps"] += 1
            return jsonify(
                {
                    "id": "1",
                    "name": request.form["client_name"],
                    "client_id": client_id,
                    "client_secret": client.client_secret,
                }
            )

        @app.get("/api/v2/instance")
        def mastodon_instance() -> Any:
            return jsonify(
                {
                    "configuration": {
                        "statuses": {"max_characters": 500, "characters_reserved_per_url": 23}
                    }
                }
            )

        @app.get("/api/v1/accounts/verify_credentials")
        @protect()
        def mastodon_me() -> Any:
            user = current_token.user
            return jsonify(
                {
                    "id": user["id"],
                    "username": user["username"],
                    "acct": user["username"],
                    "display_name": user["name"],
                }
            )

        # -- Threads -----------------------------------------------------------------------
        def graph_token() -> Token | None:
            found = outer.token(request.values.get("access_token", ""))
            if found is None or found.revoked or found.is_expired():
                return None
            return found

        def graph_error() -> Any:
            return jsonify(
                {
                    "error": {
                        "message": "Error validating access token",
                        "type": "OAuthException",
                        "code": 190,
                    }
                }
            ), 400

        @app.get("/access_token")
        @app.get("/refresh_access_token")
        def threads_long_lived() -> Any:
            outer.counts["threads_" + request.path.strip("/")] += 1
            if outer.faults:
                outer.faults.pop(0)
                return ("upstream unavailable", 503)
            old = graph_token()
            if old is None:
                return graph_error()
            if request.path == "/access_token":
                client = next(
                    (
                        c
                        for c in outer.clients.values()
                        if c.client_secret == request.args.get("client_secret")
                    ),
                    None,
                )
                if client is None or request.args.get("grant_type") != "th_exchange_token":
                    return graph_error()
            elif request.args.get("grant_type") != "th_refresh_token":
                return graph_error()
            new = Token(
                old.client_id, old.user, secrets.token_urlsafe(32), None, old.scope, 5_184_000
            )
            with outer.lock:
                outer.tokens.append(new)
            return jsonify(
                {
                    "access_token": new.access_token,
                    "token_type": "bearer",
                    "expires_in": new.expires_in,
                }
            )

        @app.get("/v1.0/me")
        def threads_me() -> Any:
            found = graph_token()
            if found is None:
                return graph_error()
            return jsonify(found.user)

        @app.get("/v1.0/me/threads_publishing_limit")
        def threads_quota() -> Any:
            if graph_token() is None:
                return graph_error()
            return jsonify(
                {
                    "data": [
                        {
                            "quota_usage": len(outer.posts),
                            "config": {"quota_total": 250, "quota_duration": 86400},
                        }
                    ]
                }
            )

        @app.post("/v1.0/me/threads")
        @app.post("/v1.0/me/threads_publish")
        def threads_post() -> Any:
            if graph_token() is None:
                return graph_error()
            if request.path.endswith("/threads"):
                outer.posts.append(request.form.to_dict())
                return jsonify({"id": f"c{len(outer.posts)}"})
            return jsonify({"id": "m" + request.form["creation_id"][1:]})

        @app.get("/v1.0/<object_id>")
        def threads_object(object_id: str) -> Any:
            if graph_token() is None:
                return graph_error()
            return jsonify(
                {
                    "id": object_id,
                    "status": "FINISHED",
                    "permalink": f"https://www.threads.net/@club_account/post/{object_id}",
                }
            )

        return app
