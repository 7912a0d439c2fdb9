"""Use cases: what a person can do, whatever the adapter they came through (Slack, CLI).

Every use case checks the policy, does the work through the store and the run loop, and writes
the audit log. Errors a person can fix are `UserError`s; the adapters show them with the hint.
"""
