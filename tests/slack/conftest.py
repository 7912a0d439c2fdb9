"""The Slack side end to end: fake Slack Web API on loopback, real Store, real Service, the real Bolt
app, and signed requests as Slack sends them, dispatched in-process (`slack`) or over real HTTP
through the WSGI layer (`slack_http`). The fixtures and the driver live in tests/rig.py."""

from __future__ import annotations

from tests.rig import CHANNEL, SECRET, USER, Reply, SlackDriver

__all__ = ["CHANNEL", "PROFILE_YAML", "SECRET", "USER", "Reply", "SlackDriver"]

PROFILE_YAML = """\
name: counter-app
version: 1.0.0
description: Counter demo
tiers:
  - name: postgres-db
    type: postgresql
    properties: {username: pguser, databaseName: counter, volumeSize: 2, password: hunter2hunter2}
  - name: api
    type: container
    properties:
      image: ghcr.io/example/api:1.0.0
      replicas: 2
      ports: [3000]
      env:
        - {name: DB_HOST, value: "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}"}
"""
