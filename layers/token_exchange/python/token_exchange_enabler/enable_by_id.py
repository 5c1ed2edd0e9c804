"""``enable``: APIs by id or identifier, now (the CLI command and the replay function's action).

Each input goes through the decision core (:meth:`~token_exchange_enabler.enabling.Enabler.enable`)
as an operator's reference: it is read first to learn the API's id, then locked and read again
under the lock, exactly as the worker would. Nothing is retried here: the operator sees each
result and decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .decision import ApiRef, Outcome, Status
from .enabling import Enabler, attempt
from .errors import KIND_CONFIGURATION, KIND_TRANSIENT, KIND_UNREACHABLE

__all__ = ["EnableResult", "enable_apis", "exit_kind"]


@dataclass(frozen=True, slots=True)
class EnableResult:
    given: str  # what the operator typed
    outcome: Outcome

    def as_dict(self) -> dict[str, Any]:
        return {"input": self.given, **self.outcome.as_dict()}


def enable_apis(enabler: Enabler, ids: Iterable[str], *, should_stop: Callable[[], bool] = lambda: False
                ) -> list[EnableResult]:
    """One result per input, in order (inputs after a stop request are not tried: not listed)."""
    results = []
    for given in ids:
        if should_stop():
            break
        ref = ApiRef.from_operator(given)
        results.append(EnableResult(given, attempt(partial(enabler.enable, ref), ref)))
    return results


def exit_kind(results: Iterable[EnableResult]) -> str | None:
    """The worst of the results, for an exit status: None (all done), ``configuration``,
    ``unreachable`` (only transient failures), or ``failed`` (not found, busy, rejected)."""
    kinds = set()
    for result in results:
        outcome = result.outcome
        if outcome.done:
            continue
        kinds.add(outcome.error_kind if outcome.status == Status.FAILED else outcome.status.value)
    if not kinds:
        return None
    if KIND_CONFIGURATION in kinds:
        return KIND_CONFIGURATION
    if kinds <= {KIND_TRANSIENT, KIND_UNREACHABLE}:
        return KIND_UNREACHABLE
    return "failed"
