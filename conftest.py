"""Suite-wide pytest plugins. (Fixtures live in tests/conftest.py.)

The leak scan is loaded here rather than with ``-p tests.leakscan`` in addopts: a root conftest
puts the repository root on ``sys.path`` first, so the plugin loads the same way whether pytest
is started as ``.venv/bin/pytest`` or ``python -m pytest``.
"""

pytest_plugins = ["tests.leakscan"]
