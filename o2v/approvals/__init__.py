"""Approvals: a person says yes or no before o2v moves people, from the Prefect UI or from Slack.

A flow that needs a decision pauses itself with Prefect (``pause_flow_run(wait_for_input=...)``, a fixed key per
question) and, when Slack is configured, posts a Block Kit message with one button per choice in the migration's
thread. Either place resumes the same paused run with the same typed input:

- the Prefect UI's resume form, which validates the input against the run's schema;
- a click in Slack, received by the Socket Mode listener (``o2v slack listen``, also inside ``o2v serve``): it
  acknowledges at once, checks the user against ``slack.approvers``, re-checks that the run is still paused at the
  question's key, resumes it, and rewrites the message with who decided and when.

A question nobody answers in time is a "no" (the flow decides what "no" means for it); every decision is written
to the store's audit table with who, where and when.
"""
