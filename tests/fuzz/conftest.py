"""Hypothesis profiles of the fuzz suite, and the in-process stack of tests/integration.

- ``fuzz-ci`` (the default): derandomized, so CI runs the same examples every time (no example
  database, no deadline: timing on a loaded CI machine must not fail a run);
- ``fuzz-deep``: random examples and the example database, for a longer local hunt, e.g.
  ``FUZZ_PROFILE=fuzz-deep FUZZ_SCALE=20 .venv/bin/pytest tests/fuzz``.

FUZZ_SCALE multiplies every test's number of examples (see strategies.fuzz_settings).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.integration.conftest import _quiet_libraries, new_instance, stack  # noqa: F401 - fixtures

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
               HealthCheck.large_base_example, HealthCheck.filter_too_much]
settings.register_profile("fuzz-ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=_SUPPRESSED)
settings.register_profile("fuzz-deep", parent=settings.get_profile("fuzz-ci"), derandomize=False,
                          database=settings.default.database)
