"""Fixtures of the template tests: the template as written and after the SAM transform."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.support import TEMPLATE_PATH, load_template, sam_transform


@pytest.fixture(scope="session")
def template_text() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    """The template as written (SAM resources, Globals)."""
    return load_template()


@pytest.fixture(scope="session")
def cfn_template(sam_template) -> dict[str, Any]:
    """The template after the SAM transform (plain CloudFormation)."""
    return sam_transform(sam_template)
