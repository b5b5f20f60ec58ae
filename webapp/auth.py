"""Who is asking, for every request: the Gradio session, HTTP Basic, or nobody (public view).

Gradio 6 offers two hooks (``gradio/routes.py``): ``auth=`` checks a
username and password at ``POST /login`` and keeps a session token in a
cookie; ``auth_dependency`` maps any request to a user name, and ``None``
refuses it with a 401. Alone, ``auth=`` turns every anonymous visitor away at
a login page, which would remove the public view. So the app uses both:

* ``auth=`` (:meth:`AppAuth.check`, the :class:`kb.users.UserStore`) runs
  Gradio's own login route and session cookie;
* the dependency (:meth:`AppAuth.username`), set on the mounted Gradio app,
  reads that cookie, or an ``Authorization: Basic`` header (scripts), and
  otherwise answers ``""``: an anonymous visitor, served the public view.
  Wrong Basic credentials are a 401, never a silent downgrade.

Handlers then get the name from ``gr.Request.username`` and turn it into a
:class:`kb.users.Principal` at call time, so a role change or a removed user
takes effect on the next question. The plain routes (``/files/...``) use the
same :meth:`AppAuth.principal`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from typing import Any

from kb.service import KnowledgeBase
from kb.users import PUBLIC, Principal

BASIC_CACHE_SECONDS = 60.0
"""Argon2 is slow on purpose (~50 ms); a script's burst of Basic requests is checked once a minute."""


class AppAuth:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.gradio_app: Any = None
        """The mounted Gradio ``App`` (its session tokens), set by ``webapp.server.create_app``."""
        self._basic: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def has_users(self) -> bool:
        return self.kb.users.count() > 0

    def check(self, username: str, password: str) -> bool:
        """Gradio's ``auth=`` callable: a valid user name and password."""
        return self.kb.users.verify(username, password) is not None

    def username(self, request: Any) -> str | None:
        """The ``auth_dependency``: a user name, ``""`` for anonymous, None (401) for bad credentials."""
        header = request.headers.get("authorization") or ""
        if header.lower().startswith("basic "):
            return self._basic_user(header[6:].strip())
        app = self.gradio_app
        if app is not None:
            for name in (f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}"):
                token = request.cookies.get(name)
                if token and token in app.tokens:
                    return app.tokens[token]
        return ""

    def principal(self, who: Any) -> Principal:
        """A user name, a ``gr.Request`` or a Starlette request, as a principal (unknown: public view)."""
        if who is None:
            return PUBLIC
        if not isinstance(who, str):
            name = getattr(who, "username", None)
            if name is None and hasattr(who, "headers") and hasattr(who, "cookies"):
                name = self.username(who)
            who = name or ""
        return self.kb.users.principal(who)

    def _basic_user(self, encoded: str) -> str | None:
        try:
            name, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        key = hashlib.sha256(f"{name}\x00{password}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._basic.get(key)
            if cached and cached[1] > now:
                return cached[0]
        user = self.kb.users.verify(name, password)
        if user is None:
            return None
        with self._lock:
            if len(self._basic) > 1000:
                self._basic.clear()
            self._basic[key] = (user.name, now + BASIC_CACHE_SECONDS)
        return user.name
