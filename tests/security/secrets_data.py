"""Secret values used across the suite: distinctive, long enough for every masker (>= 6)."""

from __future__ import annotations

import json
from typing import Any

PG_PASSWORD = "Pg-Pa55word-Zx81q"
PG_PASSWORD_V2 = "Pg-R0tated-Kk42w"
AWS_KEY_ID = "AKIAQWERTYUIOPZXCV12"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzKEYq"
ALL = (PG_PASSWORD, PG_PASSWORD_V2, AWS_KEY_ID, AWS_SECRET)

PROFILE = f"""\
name: vault-app
version: 1.0.0
description: secrets everywhere
tiers:
  - name: objects
    type: s3
    properties: {{bucket: my-bucket, region: eu-west-1, accessKeyId: {AWS_KEY_ID}, secretAccessKey: {AWS_SECRET}}}
  - name: db
    type: postgresql
    properties: {{username: pguser, databaseName: app, volumeSize: 1, password: {PG_PASSWORD}}}
  - name: api
    type: container
    properties:
      image: ghcr.io/example/api:1.0.0
      ports: [3000]
      env:
        - {{name: DB_PASSWORD, value: "{{{{.spectro.app.$appDeploymentName.db.PASSWORD}}}}"}}
        - {{name: S3_KEY, value: "{{{{.spectro.app.$appDeploymentName.objects.AWS_SECRET_ACCESS_KEY}}}}"}}
"""


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def leaked(text: str, secrets: tuple[str, ...] = ALL) -> list[str]:
    return [s for s in secrets if s in text]
