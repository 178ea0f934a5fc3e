"""The client's verification helpers (a mixin of :class:`emulator.client.Emulator`): the
journaled calls that match, the latest of them, assertions on them, and the report a failing
assertion (and a failed test, through the pytest plugin) shows::

    emulator.assert_called(operation="updateProfile", times=2, body={"email": "a@b.co"})
    assert emulator.last(operation="updateProfile")["response"]["status"] == 200
"""

from __future__ import annotations

from typing import Any, Protocol

from emulator.report import excerpt, namespace_report


class _Client(Protocol):
    namespace: str
    url: str

    def requests(
        self,
        *,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        path: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def rules(self) -> list[dict[str, Any]]: ...

    def near_misses(self, request_id: int) -> list[dict[str, Any]]: ...

    def calls(
        self,
        operation: str | None = None,
        *,
        api: str | None = None,
        status: int | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...

    def report(
        self, operation: str | None = None, *, api: str | None = None, limit: int = 20
    ) -> str: ...

    def _fail(self: _Client, headline: str, operation: str | None, api: str | None) -> None: ...


class VerificationHelpers:
    """Mixed into the client, whose ``requests``, ``rules`` and ``near_misses`` it reads."""

    def calls(
        self: _Client,
        operation: str | None = None,
        *,
        api: str | None = None,
        status: int | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The journaled calls that match, oldest first. ``body`` is a subset of the request's
        JSON body (objects key by key, recursively; arrays and scalars equal), as a rule's
        ``match.body``; ``path`` a substring of the path."""
        found = self.requests(api=api, operation=operation, status=status, path=path)
        return [call for call in found if body is None or subset(body, call["body"])]

    def last(
        self: _Client,
        operation: str | None = None,
        *,
        api: str | None = None,
        status: int | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The latest call that matches (see :meth:`calls`), or None."""
        found = self.calls(operation, api=api, status=status, path=path, body=body)
        return found[-1] if found else None

    def assert_called(
        self: _Client,
        operation: str | None = None,
        *,
        times: int | None = None,
        api: str | None = None,
        status: int | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Assert that matching calls were made (see :meth:`calls`): exactly ``times`` of
        them, or at least one; return them. The failure says what was called instead and
        the near misses of the latest call, e.g.::

            emulator.assert_called(operation="updateProfile", times=2, body={"email": "a@b.co"})
        """
        found = self.calls(operation, api=api, status=status, path=path, body=body)
        if (len(found) != times) if times is not None else not found:
            wanted = "at least once" if times is None else _times(times)
            self._fail(
                f"expected {_described(operation, api, status, path, body)} to be "
                f"called {wanted}; it was called {_times(len(found))}",
                operation,
                api,
            )
        return found

    def assert_not_called(
        self: _Client,
        operation: str | None = None,
        *,
        api: str | None = None,
        status: int | None = None,
        path: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Assert that no matching call was made (see :meth:`calls`)."""
        found = self.calls(operation, api=api, status=status, path=path, body=body)
        if found:
            self._fail(
                f"expected {_described(operation, api, status, path, body)} not to be "
                f"called; it was called {_times(len(found))}",
                operation,
                api,
            )

    def _fail(self: _Client, headline: str, operation: str | None, api: str | None) -> None:
        raise AssertionError(f"{headline}\n{self.report(operation, api=api)}")

    def report(
        self: _Client, operation: str | None = None, *, api: str | None = None, limit: int = 20
    ) -> str:
        """What was called in this namespace, as a failing assertion and a failed test show
        it: the latest ``limit`` calls (method, path, operation, status, a vendor error's
        code and message, the rule that acted, the request body), the namespace's rules with
        their counters, the near misses of the latest call of ``operation`` (or of the
        latest call), and the dashboard's URL on the namespace."""
        journal = self.requests(limit=limit + 1)
        more = len(journal) > limit
        journal = journal[-limit:]
        rules = self.rules()
        latest = next(
            (
                call
                for call in reversed(journal)
                if (operation is None or call["operation"] == operation)
                and (api is None or call["api"] == api)
            ),
            None,
        )
        misses = None if latest is None else (latest, self.near_misses(latest["id"]))
        return namespace_report(
            self.namespace, journal, more=more, rules=rules, misses=misses, url=self.url
        )


def subset(pattern: Any, value: Any) -> bool:
    """A rule's body match: objects key by key, recursively; anything else equal as JSON
    (true is not 1)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and subset(expected, value[key]) for key, expected in pattern.items()
        )
    if isinstance(pattern, bool) or isinstance(value, bool):
        return type(pattern) is type(value) and pattern == value
    return bool(pattern == value)


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _described(
    operation: str | None,
    api: str | None,
    status: int | None,
    path: str | None,
    body: dict[str, Any] | None,
) -> str:
    what = " ".join(filter(None, [api, operation])) or "a vendor call"
    more = [
        f"path containing {path!r}" if path else None,
        f"status {status}" if status is not None else None,
        f"body containing {excerpt(body)}" if body is not None else None,
    ]
    extra = ", ".join(filter(None, more))
    return f"{what} ({extra})" if extra else what
