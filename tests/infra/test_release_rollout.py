"""Releases under the mock engine: the wheel reaches every fleet through the scale set model, and a new
wheel changes that model (so Rolling upgrades replace the service on running VMs, batch by batch)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import environment, mocks, program
from infra.compute import cloud_init, release
from infra.compute.settings import DeploySettings, Wheel
from infra.errors import SlotstackError
from tests.plans import make_wheel, of_cell

VMSS = "azure-native:compute:VirtualMachineScaleSet"


def extension_of(vmss: mocks.Recorded, name: str = release.EXTENSION_NAME) -> dict[str, Any]:
    extensions = vmss.inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
    [found] = [e for e in extensions if e["name"] == name]
    return dict(found)


def script_of(vmss: mocks.Recorded) -> str:
    return gzip.decompress(base64.b64decode(extension_of(vmss)["protectedSettings"]["script"])).decode()


def shipped_of(script: str) -> bytes:
    """The wheel the script writes on the VM, decoded here the way its here-document is on the VM."""
    [body] = re.findall(r"<<'SLOTSTACK_WHEEL'\n(.*?)\nSLOTSTACK_WHEEL\n", script, flags=re.S)
    return lzma.decompress(base64.b64decode(body))


def members(wheel: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def pinned(script: str) -> str:
    [sha] = re.findall(r"--sha256 ([0-9a-f]{64}) ", script)
    return sha


def test_every_fleet_gets_the_release_through_the_management_api(plan_of: Callable[[str], mocks.Plan],
                                                                 fixture_wheel: Wheel) -> None:
    for name in ("dev", "staging", "prod"):
        plan = plan_of(name)
        for resource in plan.resources:
            assert resource.type != "azure-native:storage:Blob", (
                f"{name}: {resource.name} uploads through the storage data plane, which the deployer cannot reach")
        for vmss in plan.of_type(VMSS):
            ext = extension_of(vmss)
            assert (ext["publisher"], ext["type"]) == ("Microsoft.Azure.Extensions", "CustomScript")
            assert ext["forceUpdateTag"] == fixture_wheel.sha256
            assert ext["provisionAfterExtensions"] == ["health"], "rolling upgrades gate on the health extension"
            assert "settings" not in ext, "the wheel travels in protected settings only"
            script = script_of(vmss)
            wheel = shipped_of(script)
            assert pinned(script) == hashlib.sha256(wheel).hexdigest(), "the VM checks what it was sent"
            assert members(wheel) == members(fixture_wheel.path.read_bytes()), "the same files, byte for byte"
            assert all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(io.BytesIO(wheel)).infolist())


def test_the_standby_fleet_runs_the_same_release_as_the_serving_one(plan_of: Callable[[str], mocks.Plan]) -> None:
    plan = plan_of("prod")
    for cell in environment.load("prod").cells:
        sets = of_cell(plan, cell, VMSS)
        assert len(sets) == 2, f"{cell}: a serving and a standby fleet"
        assert script_of(sets[0]) == script_of(sets[1])


def test_custom_data_is_the_same_for_every_release_and_holds_no_secret(plan_of: Callable[[str], mocks.Plan]) -> None:
    for vmss in plan_of("staging").of_type(VMSS):
        raw = base64.b64decode(vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]).decode()
        assert raw == cloud_init.render()
        assert yaml.safe_load(raw)["packages"] == cloud_init.PACKAGES
        script = script_of(vmss)
        for forbidden in ("mock-password", "password=", "AccountKey", "sig=", "PRIVATE KEY", "SECRET_KEY=",
                          "DATABASE_URL="):
            assert forbidden not in script, f"{vmss.name}: the release script holds a secret ({forbidden})"


def test_a_new_wheel_changes_the_scale_set_model_so_running_vms_get_it(tmp_path: Path,
                                                                      deploy_settings: DeploySettings) -> None:
    env = environment.load("dev")
    plans = []
    for version in ("1.0.0", "1.1.0"):
        (tmp_path / version).mkdir()
        wheel = Wheel.from_file(make_wheel(tmp_path / version, version=version, payload=version.encode()))
        settings = replace(deploy_settings, wheel=wheel)

        def build(settings: DeploySettings = settings) -> None:
            program.build(env, settings)

        plans.append((wheel, mocks.evaluate("dev", build)))
    (old_wheel, old), (new_wheel, new) = plans
    [old_vmss], [new_vmss] = old.of_type(VMSS), new.of_type(VMSS)
    assert old_vmss.name == new_vmss.name, "the same scale set is updated in place, not replaced"
    assert extension_of(old_vmss)["forceUpdateTag"] == old_wheel.sha256
    assert extension_of(new_vmss)["forceUpdateTag"] == new_wheel.sha256
    assert members(shipped_of(script_of(new_vmss))) == members(new_wheel.path.read_bytes())
    assert pinned(script_of(new_vmss)) != pinned(script_of(old_vmss))
    policy = new_vmss.inputs["upgradePolicy"]
    assert policy["mode"] == "Rolling", "a model change reaches running instances in health-gated batches"
    assert policy["rollingUpgradePolicy"]["maxUnhealthyUpgradedInstancePercent"] <= 20, "a bad release stops"
    assert old_vmss.inputs["virtualMachineProfile"]["osProfile"] == new_vmss.inputs["virtualMachineProfile"][
        "osProfile"], "custom data does not change between releases (it would only reach new instances)"


def test_the_same_wheel_renders_the_same_settings(tmp_path: Path, fixture_wheel: Wheel,
                                                  fixture_bootstrap: Path) -> None:
    boot = cloud_init.Boot(cell="us", cell_urls={"us": "https://us.example.com"},
                           key_vault_uri="https://kv.vault.azure.net/", client_id="cid")
    first = release.extension(fixture_wheel, boot, fixture_bootstrap)
    # A copy elsewhere (a fresh checkout, another deployer) is re-zipped and re-compressed from scratch.
    copy = tmp_path / fixture_wheel.path.name
    shutil.copyfile(fixture_wheel.path, copy)
    again = release.extension(Wheel.from_file(copy), boot, fixture_bootstrap)
    assert first == again, "no diff (and no rollout) per run"


def test_a_wheel_too_large_to_ship_inline_is_refused_before_anything_starts(tmp_path: Path,
                                                                            fixture_bootstrap: Path) -> None:
    big = Wheel.from_file(make_wheel(tmp_path, payload=os.urandom(300 * 1024)))  # incompressible
    boot = cloud_init.Boot(cell="us", cell_urls={}, key_vault_uri="https://kv.vault.azure.net/", client_id="cid")
    with pytest.raises(SlotstackError, match="too large to ship inline") as refused:
        release.extension(big, boot, fixture_bootstrap)
    message = str(refused.value)
    assert f"over the {release.MAX_SCRIPT_BYTES:,}-byte ceiling" in message
    assert "Keep dependencies out of the wheel" in message
    assert "python -m build --wheel app" in message


def test_a_file_that_is_no_wheel_is_refused_on_the_deployers_machine(tmp_path: Path, fixture_bootstrap: Path) -> None:
    path = tmp_path / "booking-1.2.3-py3-none-any.whl"
    path.write_bytes(b"not a zip")
    boot = cloud_init.Boot(cell="us", cell_urls={}, key_vault_uri="https://kv.vault.azure.net/", client_id="cid")
    with pytest.raises(SlotstackError, match=r"is not a readable wheel .* rebuild it with"):
        release.extension(Wheel.from_file(path), boot, fixture_bootstrap)


def test_a_wheel_rebuilt_after_it_was_read_is_not_shipped_under_the_old_sha256(tmp_path: Path,
                                                                              fixture_bootstrap: Path) -> None:
    wheel = Wheel.from_file(make_wheel(tmp_path, payload=b"old"))
    make_wheel(tmp_path, payload=b"new")
    boot = cloud_init.Boot(cell="us", cell_urls={}, key_vault_uri="https://kv.vault.azure.net/", client_id="cid")
    with pytest.raises(SlotstackError, match="changed after the program read it"):
        release.extension(wheel, boot, fixture_bootstrap)


def test_automatic_os_image_upgrades_patch_the_fleet(plan_of: Callable[[str], mocks.Plan]) -> None:
    for vmss in plan_of("prod").of_type(VMSS):
        automatic = vmss.inputs["upgradePolicy"]["automaticOSUpgradePolicy"]
        assert automatic["enableAutomaticOSUpgrade"] is True, f"{vmss.name}: no automatic OS security patching"
        assert automatic["useRollingUpgradePolicy"] is True
        image = vmss.inputs["virtualMachineProfile"]["storageProfile"]["imageReference"]
        assert image["version"] == "latest", "automatic OS upgrades need the image version 'latest'"
