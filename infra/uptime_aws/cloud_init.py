"""cloud-init for a monitor site: install the `uptime` wheel and run it under systemd.

The wheel is fetched over the VPC's S3 gateway endpoint and its sha256 checked before anything is
installed, as the booking fleet does. Secrets are not in user data: the instance reads them from
SSM Parameter Store with its own role when the service starts.
"""

from __future__ import annotations

import shlex

import yaml

UNIT = """[Unit]
Description=slotstack uptime monitor ({role})
After=network-online.target
Wants=network-online.target

[Service]
User=uptime
EnvironmentFile=-/etc/uptime/env
ExecStartPre=+/usr/local/bin/uptime-secrets
ExecStart={command}
Restart=always
RestartSec=5
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
StateDirectory=uptime
ReadWritePaths=/var/lib/uptime

[Install]
WantedBy=multi-user.target
"""

SECRETS = """#!/bin/sh
# Fetch the monitor's configuration and secrets from SSM Parameter Store (the config names on-call
# phones, so it is a SecureString too). Secrets under {prefix} become environment variables in
# /etc/uptime/env (mode 0600, read by systemd before it drops privileges).
set -eu
umask 077
aws ssm get-parameter --region {region} --with-decryption --name {config_parameter} \
  --query Parameter.Value --output text > /etc/uptime/uptime.yaml.new
chmod 0640 /etc/uptime/uptime.yaml.new && chgrp uptime /etc/uptime/uptime.yaml.new
mv /etc/uptime/uptime.yaml.new /etc/uptime/uptime.yaml
aws ssm get-parameters-by-path --region {region} --with-decryption --path {prefix} \\
  --query 'Parameters[].[Name,Value]' --output text |
while IFS="$(printf '\\t')" read -r name value; do
  printf '%s=%s\\n' "$(basename "$name")" "$value"
done > /etc/uptime/env.new
mv /etc/uptime/env.new /etc/uptime/env
"""


def render(*, role: str, wheel_url: str, wheel_sha256: str, command: str, ssm_prefix: str,
           config_parameter: str, region: str) -> str:
    """The #cloud-config document of one monitor instance (core or agent)."""
    install = (
        "set -eu; "
        f"curl -fsSL --retry 5 -o /tmp/uptime.whl {shlex.quote(wheel_url)}; "
        f"echo {shlex.quote(wheel_sha256 + '  /tmp/uptime.whl')} | sha256sum -c - "
        "|| { echo 'uptime wheel sha256 mismatch: refusing to install' >&2; exit 1; }; "
        "python3 -m venv /opt/uptime; "
        "/opt/uptime/bin/pip install --quiet /tmp/uptime.whl"
    )
    document = {
        "package_update": True,
        "packages": ["python3-venv", "curl"],
        "snap": {"commands": ["snap install aws-cli --classic"]},
        "users": ["default", {"name": "uptime", "system": True, "shell": "/usr/sbin/nologin"}],
        "write_files": [
            {"path": "/usr/local/bin/uptime-secrets", "permissions": "0755",
             "content": SECRETS.format(prefix=ssm_prefix, region=region, config_parameter=config_parameter)},
            {"path": "/etc/systemd/system/uptime.service", "permissions": "0644",
             "content": UNIT.format(role=role, command=command)},
        ],
        "runcmd": [
            ["sh", "-c", install],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "uptime.service"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)
