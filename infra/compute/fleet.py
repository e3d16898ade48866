"""Fleet: the booking service's VM Scale Set (Flexible) in one region, with health-driven repairs and autoscale."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import compute

from infra.compute.autoscale import cpu_autoscale
from infra.network.addressing import APP_PORT
from infra.network.gateway import HEALTH_PATH
from infra.provider import regions

ADMIN_USER = "slotadmin"
UBUNTU: compute.ImageReferenceArgsDict = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
                                          "version": "latest"}


@dataclass
class FleetArgs:
    """Inputs of one region's fleet."""

    scale_set_name: str
    """Name of the scale set in its resource group."""
    resource_group_name: pulumi.Input[str]
    """Resource group of the region."""
    location: str
    """Azure region."""
    vm_size: str
    """VM size from the environment."""
    accelerated_networking: bool
    """Whether the size supports (and the environment wants) accelerated networking (infra.provider.checks)."""
    minimum: int
    """Autoscale floor (and initial capacity)."""
    maximum: int
    """Autoscale ceiling."""
    subnet_id: pulumi.Input[str]
    """The app subnet (no public IPs; reachable from the gateway subnet only)."""
    backend_pool_id: pulumi.Input[str]
    """The gateway backend pool the instances join."""
    identity_id: pulumi.Input[str]
    """User-assigned identity of the VMs (reads the release and Key Vault)."""
    custom_data: pulumi.Input[str]
    """Base64 cloud-init (infra.compute.cloud_init); holds no secret."""
    ssh_public_keys: tuple[str, ...]
    """Admin public keys; password authentication is disabled."""
    tags: dict[str, str]
    """Tags of the scale set and its autoscale setting."""
    extra_extensions: list[pulumi.Input[compute.VirtualMachineScaleSetExtensionArgsDict]] = field(default_factory=list)
    """More VM extensions managed inline with the scale set (the release, the Azure Monitor Agent); inline,
    because a separately declared extension would be removed by the next update of the scale set."""


class Fleet(pulumi.ComponentResource):
    """Flexible orchestration (zones 1-3 where the region has zones), Ubuntu 24.04, trusted launch, encryption at
    host, rolling upgrades and automatic OS image upgrades.

    Attributes: `scale_set`, `id`, `autoscale`.
    """

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:compute:Fleet", name, None, opts)
        # Zones only where the region has them: Azure refuses a zonal scale set in a zoneless region.
        zones = regions.zones_of(args.location)
        self.scale_set = compute.VirtualMachineScaleSet(
            f"{name}-vmss",
            vm_scale_set_name=args.scale_set_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            orchestration_mode="Flexible",
            platform_fault_domain_count=1,
            single_placement_group=False,
            zones=zones or None,
            zone_balance=True if zones else None,
            sku={"name": args.vm_size, "tier": "Standard", "capacity": args.minimum},
            identity={"type": compute.ResourceIdentityType.USER_ASSIGNED,
                      "user_assigned_identities": [args.identity_id]},
            upgrade_policy={
                # A new release (the release extension's settings) rolls through the fleet batch by batch,
                # gated on the health extension.
                "mode": compute.UpgradeMode.ROLLING,
                # Security patches: a new Ubuntu image version replaces instances through the same
                # health-gated rolling batches (needs image version "latest" and the health extension).
                # https://learn.microsoft.com/en-us/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-automatic-upgrade
                "automatic_os_upgrade_policy": {"enable_automatic_os_upgrade": True,
                                                "use_rolling_upgrade_policy": True,
                                                "disable_automatic_rollback": False},
                "rolling_upgrade_policy": {
                    "max_batch_instance_percent": 20, "max_unhealthy_instance_percent": 20,
                    "max_unhealthy_upgraded_instance_percent": 20, "pause_time_between_batches": "PT30S",
                    "prioritize_unhealthy_instances": True, "enable_cross_zone_upgrade": bool(zones),
                },
            },
            automatic_repairs_policy={"enabled": True, "grace_period": "PT10M", "repair_action": "Replace"},
            virtual_machine_profile={
                "os_profile": {
                    "computer_name_prefix": args.scale_set_name[:9],
                    "admin_username": ADMIN_USER,
                    "custom_data": args.custom_data,
                    "linux_configuration": {
                        "disable_password_authentication": True,
                        "provision_vm_agent": True,
                        "ssh": {"public_keys": [{"path": f"/home/{ADMIN_USER}/.ssh/authorized_keys", "key_data": key}
                                                for key in args.ssh_public_keys]},
                    },
                },
                "storage_profile": {
                    "image_reference": UBUNTU,
                    "os_disk": {"create_option": "FromImage", "caching": compute.CachingTypes.READ_WRITE,
                                "delete_option": "Delete",
                                "managed_disk": {"storage_account_type": "Premium_LRS"}},
                },
                "security_profile": {
                    "encryption_at_host": True,
                    "security_type": "TrustedLaunch",
                    "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True},
                },
                "network_profile": {
                    "network_api_version": "2022-11-01",
                    "network_interface_configurations": [{
                        "name": "nic", "primary": True, "enable_accelerated_networking": args.accelerated_networking,
                        "delete_option": "Delete",
                        # No public_ip_address_configuration: instances are reachable only through the gateway.
                        "ip_configurations": [{
                            "name": "ipconfig", "primary": True, "subnet": {"id": args.subnet_id},
                            "application_gateway_backend_address_pools": [{"id": args.backend_pool_id}],
                        }],
                    }],
                },
                "extension_profile": {"extensions": [{
                    "name": "health",
                    "publisher": "Microsoft.ManagedServices",
                    "type": "ApplicationHealthLinux",
                    "type_handler_version": "2.0",
                    "auto_upgrade_minor_version": True,
                    "settings": {"protocol": "http", "port": APP_PORT, "requestPath": HEALTH_PATH,
                                 "intervalInSeconds": 10, "numberOfProbes": 3, "gracePeriod": 600},
                }, *args.extra_extensions]},
                "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
            },
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["sku.capacity"]),
        )
        self.id = self.scale_set.id
        # Autoscale owns the capacity from here on (hence ignore_changes on sku.capacity above).
        self.autoscale = cpu_autoscale(
            f"{name}-autoscale", target_id=self.scale_set.id, resource_group_name=args.resource_group_name,
            location=args.location, minimum=args.minimum, maximum=args.maximum, tags=args.tags, parent=self)
        self.register_outputs({"id": self.id})
