"""The Bolt listeners, one module per kind of request Slack sends.

- `slash`   — the `/appprofile` command: parse, ack, run the command's handler
- `buttons` — clicks on the buttons the bot drew (help, delete, approvals, retry, upgrade, plan)
- `pages`   — a list's Previous / Next buttons: the next page of the table, in place
- `forms`   — submissions of the create / version / clone forms

Each has `register(app, ctx)` (`context.Context`: the use cases and the job runner). They share
`replies` (where answers go; every Web API call leaves as one of the error tree's classes),
`jobs` (work on the executor; failures shown through `bot.slack.failures`) and `answers`
(messages more than one listener sends).
"""
