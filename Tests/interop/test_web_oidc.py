"""The page's OpenID Connect login (authorization code with PKCE, RFC 7636) against a tiny
issuer started by the test on loopback. The issuer checks the PKCE verifier; the broker
stand-in (mosquitto) cannot verify id tokens, so these tests check what the page sends:
user name ``user:<sub>`` and the id token as password (mosquitto logs the user name). Token
verification (signature, issuer, audience, expiry) is the real server's job and is tested
with it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from web_support import HOST, browser, web_stack  # noqa: F401 - fixtures

CLIENT_ID = "pod-arcade-web"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), IssuerHandler)
        self.url = f"http://{HOST}:{self.server_address[1]}"
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.subject = f"alice-{secrets.token_hex(3)}"
        self.lifetime = 3600

    def id_token(self, nonce: str | None) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": "test"}
        now = int(time.time())
        claims = {"iss": self.url, "sub": self.subject, "aud": CLIENT_ID, "iat": now, "exp": now + self.lifetime}
        if nonce:
            claims["nonce"] = nonce
        # Signed by nobody: mosquitto does not look at it, the page must not either.
        return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(b"sig")])


class IssuerHandler(BaseHTTPRequestHandler):
    server: Issuer

    def log_message(self, *_: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:  # noqa: N802
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/.well-known/openid-configuration":
            base = self.server.url
            self._json(200, {"issuer": base, "authorization_endpoint": f"{base}/authorize",
                             "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                             "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"]})
            return
        if url.path == "/authorize":
            query = dict(urllib.parse.parse_qsl(url.query))
            self.server.authorize_requests.append(query)
            code = secrets.token_urlsafe(16)
            self.server.codes[code] = query
            location = query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
            self.send_response(302)
            self.send_header("Location", location)
            self.end_headers()
            return
        self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/token":
            self._json(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        self.server.token_requests.append(form)
        request = self.server.codes.pop(form.get("code", ""), None)
        if request is None or form.get("grant_type") != "authorization_code":
            self._json(400, {"error": "invalid_grant"})
            return
        challenge = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if request.get("code_challenge_method") != "S256" or challenge != request.get("code_challenge"):
            self._json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
            return
        if form.get("redirect_uri") != request.get("redirect_uri") or form.get("client_id") != CLIENT_ID:
            self._json(400, {"error": "invalid_grant"})
            return
        self._json(200, {"access_token": "opaque", "token_type": "Bearer", "expires_in": 3600,
                         "id_token": self.server.id_token(request.get("nonce"))})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    threading.Thread(target=server.serve_forever, name="oidc-issuer", daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_page_signs_in_with_pkce_and_uses_the_id_token_for_mqtt(web_stack, browser, issuer) -> None:
    config = {"auth_method": "oidc", "oidc_server": issuer.url, "oidc_client_id": CLIENT_ID}
    stack = web_stack(auth="none", config=config)
    desktop_id = f"oidc-{secrets.token_hex(3)}"
    desktop = stack.desktop_client(desktop_id)
    desktop.publish_ok(f"desktops/{desktop_id}/status", "online", qos=1, retain=True)
    try:
        browser.get(stack.page("/"))
        browser.wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'[data-desktop-id="{desktop_id}"]'),
                         what="the list after signing in")
        assert browser.current_url == stack.page("/")

        (authorize,) = issuer.authorize_requests
        assert authorize["response_type"] == "code" and authorize["client_id"] == CLIENT_ID
        assert authorize["redirect_uri"] == stack.page("/oidc-callback")
        assert authorize["code_challenge_method"] == "S256" and len(authorize["code_challenge"]) == 43
        assert "openid" in authorize["scope"].split()
        (token,) = issuer.token_requests
        assert 43 <= len(token["code_verifier"]) <= 128

        log = stack.broker.process.log_path.read_text()
        assert f"u'user:{issuer.subject}'" in log, "the page did not log in as user:<sub>"
        stored = browser.js("return sessionStorage.getItem('pod-arcade.id-token')")
        assert stored and stored.count(".") == 2
    finally:
        desktop.stop()


def test_a_deep_link_comes_back_to_its_page_after_signing_in(web_stack, browser, issuer) -> None:
    config = {"auth_method": "oidc", "oidc_server": issuer.url, "oidc_client_id": CLIENT_ID}
    stack = web_stack(auth="none", config=config)
    browser.get(stack.page("/desktops/somewhere"))
    browser.wait_for(lambda: browser.find_elements(By.ID, "session-status"), what="the session page")
    assert browser.current_url == stack.page("/desktops/somewhere")


def test_an_expired_token_is_not_used_and_the_page_says_so(web_stack, browser, issuer) -> None:
    config = {"auth_method": "oidc", "oidc_server": issuer.url, "oidc_client_id": CLIENT_ID}
    stack = web_stack(auth="none", config=config)
    issuer.lifetime = -60
    browser.get(stack.page("/"))
    message = browser.wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "[role=alert] p").text,
                               what="the expired-token message")
    assert "expired" in message
    assert len(issuer.authorize_requests) == 1  # no redirect loop
    log = stack.broker.process.log_path.read_text()
    assert "user:" + issuer.subject not in log


def test_a_stored_token_that_expired_sends_the_user_to_sign_in_again(web_stack, browser, issuer) -> None:
    config = {"auth_method": "oidc", "oidc_server": issuer.url, "oidc_client_id": CLIENT_ID}
    stack = web_stack(auth="none", config=config)
    browser.get(stack.page("/"))
    browser.wait_for(lambda: browser.find_elements(By.ID, "desktop-list"), what="the list")
    stale = issuer.id_token(None)
    header, _, signature = stale.split(".")
    claims = {"sub": issuer.subject, "exp": int(time.time()) - 10}
    browser.js("sessionStorage.setItem('pod-arcade.id-token', arguments[0])",
               ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), signature]))
    browser.refresh()
    browser.wait_for(lambda: len(issuer.authorize_requests) == 2, what="a second authorization")
    browser.wait_for(lambda: browser.find_elements(By.ID, "desktop-list"), what="the list again")


def test_a_failed_code_exchange_is_shown(web_stack, browser, issuer) -> None:
    config = {"auth_method": "oidc", "oidc_server": issuer.url, "oidc_client_id": "someone-else"}
    stack = web_stack(auth="none", config=config)
    browser.get(stack.page("/"))
    title = browser.wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "[role=alert] h1").text,
                             what="the sign-in error")
    assert title == "Sign-in failed"
    assert "400" in browser.find_element(By.CSS_SELECTOR, "[role=alert] p").text
