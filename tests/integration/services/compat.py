"""hypothesis-jsonschema 0.23 calls `many.more()`, which newer hypothesis removed: restore it for tests."""

from __future__ import annotations

from hypothesis.internal.conjecture import utils as cu

__all__ = ["patch_many_more"]


def _more(self: cu.many) -> bool:
    """The old protocol: close the previous element, decide, open the next one."""
    if self._depth is None:  # the old API had no `with` block
        self._depth = self.data.depth
    if self._in_element:
        self._finish_element()
    if not self._decide():
        return False
    self.count += 1
    self._in_element = True
    self._rejected = False
    return True


def patch_many_more() -> None:
    """Give `many` a `more()` method when the installed hypothesis lacks it (idempotent)."""
    if not hasattr(cu.many, "more"):
        cu.many.more = _more  # type: ignore[attr-defined]
