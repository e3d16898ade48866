"""Azure RBAC role assignments, scoped to exactly one resource of the cell."""

from __future__ import annotations

import uuid

import pulumi
from pulumi_azure_native import authorization

# Built-in role definition ids (the same in every tenant).
ROLES = {
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
}


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    """The ARM id of built-in `role` in the subscription."""
    return pulumi.Output.concat("/subscriptions/", subscription_id,
                                "/providers/Microsoft.Authorization/roleDefinitions/", ROLES[role])


def assign(name: str, *, role: str, principal_id: pulumi.Input[str], scope: pulumi.Input[str],
           subscription_id: pulumi.Input[str], parent: pulumi.Resource) -> authorization.RoleAssignment:
    """Grant `role` to a managed identity on `scope` only.

    The assignment's name must be a GUID unique in the tenant; deriving it from the stack and the
    logical name keeps it stable across runs and distinct between environments.
    """
    stable = f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}"
    return authorization.RoleAssignment(
        name,
        role_assignment_name=str(uuid.uuid5(uuid.NAMESPACE_URL, stable)),
        role_definition_id=role_definition_id(subscription_id, role),
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        scope=scope,
        opts=pulumi.ResourceOptions(parent=parent),
    )
