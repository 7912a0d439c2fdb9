"""The run loop: deploy and delete runs, tier by tier through the ports, persisting every step.

One run at a time per (cluster, deployment): later requests queue in the store and are claimed
in order. State is written before and after each step, so a restarted bot resumes a run from its
last completed tier (apply is idempotent) and keeps updating the same progress message.
"""
