"""Every Block Kit `action_id` the bot draws and listens for, in one place.

The builders (`blocks`, `progress`, `plan_view`, `modals`) put these on buttons and inputs; the
listeners (`bot.slack.listeners`) register on the same names, so a button and its listener
cannot drift apart.
"""

from __future__ import annotations

# Replies shown only to the person (bot.slack.blocks).
HELP_ACTION = "appprofile_help"
CANCEL_ACTION = "appprofile_cancel"
DELETE_ACTION = "appprofile_delete"
DELETE_CHOOSE_ACTION = "appprofile_delete_choose"
UPGRADE_ACTION = "deployment_upgrade"
REVERT_ACTION = "deployment_revert"  # re-apply the deployed version over drift (bot.slack.drift_view)
# A list's Previous / Next buttons (bot.slack.tables). Slack wants action ids unique within a
# block, so the two carry it with a suffix (`list_page.previous`, `list_page.next`).
PAGE_ACTION = "list_page"

# A run's progress message and approval card (bot.slack.progress, bot.slack.plan_view).
RETRY_ACTION = "run_retry"
ROLLBACK_ACTION = "run_rollback"
APPROVE_ACTION = "approval_approve"
REJECT_ACTION = "approval_reject"
VIEW_PLAN_ACTION = "plan_view"
LOGS_ACTION = "run_logs"  # a failed or waiting tier's pods' logs into the run's thread

# Every input of a form (bot.slack.modals); the block id names the field.
INPUT_ACTION = "value"
