"""One API the app serves (a vendor's, or the control API): where it is mounted, how it words
its errors, who may call it, its body caps and its handlers. ``app.create_app`` makes one
record per API; ``EmulatorApp`` and the ``Dispatcher`` read them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from emulator.context import Handler
from emulator.errors import ErrorShape, VendorError
from emulator.jsonyaml import MAX_NESTING
from emulator.payload import MAX_BODY_BYTES

Guard = Callable[[str, Mapping[str, str]], VendorError | None]  # (path, headers) -> refusal


def _fits(template: str, path: str) -> bool:
    """Whether ``path`` is of ``template`` (``/webhooks/{id}``): segment by segment, a
    ``{parameter}`` any non-empty segment (one pass over each, no pattern)."""
    want, have = template.split("/"), path.split("/")
    return len(want) == len(have) and all(
        w == h or (w.startswith("{") and h != "") for w, h in zip(want, have, strict=True)
    )


@dataclass(frozen=True)
class API:
    """One API: its handlers are operationId -> handler, one for each operation of its spec."""

    name: str
    prefix: str  # the URL path prefix that is this API's alone, e.g. "/client/"
    shape: ErrorShape
    handlers: Mapping[str, Handler]
    vendor: bool = True  # a vendor API: its calls are journaled and fault rules act on them
    guard: Guard | None = None  # (path, headers) -> a refusal, e.g. the control token
    # (METHOD, path) -> the body cap of the operation there, where its spec sets its own
    # (`x-max-body-bytes`, specs.body_limits); any other call's is MAX_BODY_BYTES.
    max_body: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # The refusal of a body over a cap, given that cap (None: the shape's `too_large`).
    too_large: Callable[[int], VendorError] | None = None
    # path -> its own bound on a JSON body's nesting instead of MAX_NESTING (a state snapshot)
    nesting: Mapping[str, int] = field(default_factory=dict)

    def body_cap(self, method: str, path: str) -> int:
        cap = self.max_body.get((method, path))
        if cap is not None:
            return cap
        for (limited, template), cap in self.max_body.items():
            if limited == method and "{" in template and _fits(template, path):
                return cap
        return MAX_BODY_BYTES

    def body_nesting(self, path: str) -> int:
        return self.nesting.get(path, MAX_NESTING)

    def body_refusal(self, cap: int) -> VendorError:
        """The refusal of a body over ``cap``, before any of it is parsed."""
        return self.too_large(cap) if self.too_large is not None else self.shape.too_large
