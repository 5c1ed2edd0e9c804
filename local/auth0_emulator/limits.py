"""Plan entity limits: how many applications, APIs and client grants a tenant may hold.

Auth0's *Entity Limit Policy* (https://auth0.com/docs/troubleshoot/customer-support/operational-policies/entity-limit-policy)
publishes hard limits per group of subscription plans. The self-service plans are Free, Essentials
and Professional (https://auth0.com/docs/troubleshoot/customer-support/manage-subscriptions); the
policy gives one table for Free, one for "Self-service" (the paid self-service plans) and one for
Enterprise:

==============  ============  ============  =============
plan            Applications  APIs          Client grants
==============  ============  ============  =============
free            10            10            100
essentials      100           100           10,000
professional    100           100           10,000
enterprise      100,000       100,000       100,000
==============  ============  ============  =============

Beyond a limit, a create answers 403 ``too_many_entities`` "You reached the limit of entities of
this type for this tenant." (the official spec lists that 403 for ``POST /api/v2/clients`` and
``POST /api/v2/resource-servers``; the ``errorCode`` is the one tenants have been seen to send).
What counts is the emulator's stated choice, the policy being silent: every application of the
tenant — whatever its ``app_type``, Custom API clients included — plus the M2M credentials
registered with ``add_m2m_client`` (they stand for the tenant's admin application, itself an
application on a real tenant); every API but the system ones; every client grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError

#: The message and error code of a create beyond the plan's limit.
TOO_MANY_ENTITIES_MESSAGE = "You reached the limit of entities of this type for this tenant."
TOO_MANY_ENTITIES = "too_many_entities"


@dataclass(frozen=True)
class EntityLimits:
    """The most applications, (non-system) APIs and client grants a tenant may hold; ``None``: no limit."""

    applications: int | None = None
    resource_servers: int | None = None
    client_grants: int | None = None


#: Auth0's published entity limits per plan (see the module docstring).
PLANS: dict[str, EntityLimits] = {
    "free": EntityLimits(applications=10, resource_servers=10, client_grants=100),
    "essentials": EntityLimits(applications=100, resource_servers=100, client_grants=10_000),
    "professional": EntityLimits(applications=100, resource_servers=100, client_grants=10_000),
    "enterprise": EntityLimits(applications=100_000, resource_servers=100_000, client_grants=100_000),
}

#: No limit at all: the emulator's default, so that nothing depends on a plan unless asked.
UNLIMITED = EntityLimits()


def limits_for(plan: str | None) -> EntityLimits:
    """The limits of a plan by name (``None``: unlimited); a ``ValueError`` names the known plans."""
    if plan is None:
        return UNLIMITED
    try:
        return PLANS[plan]
    except KeyError:
        raise ValueError(f"unknown plan {plan!r}: one of {', '.join(PLANS)} or None") from None


def check(count: int, limit: int | None) -> None:
    """Raise Auth0's 403 when one more entity would exceed ``limit``."""
    if limit is not None and count >= limit:
        raise ApiError(403, TOO_MANY_ENTITIES_MESSAGE, TOO_MANY_ENTITIES)
