"""The staged cutover: move clients from Ollama to vLLM stage by stage through the gateway's routing table.

  stages.py    the stages from the config, and the routing table each one means
  analysis.py  the per-stage state machine (Argo Rollouts / Kayenta semantics), plain and unit-tested
  measure.py   one interval's judgement: the gateway's samples through the "cutover" GX suite
  watch.py     one stage's watch loop: measure every interval, feed the state machine, act on its decision
  position.py  where a migration's cutover stands (kept in the store, so a re-run resumes there)
  evidence.py  what an approver sees: the evidence so far, in Markdown

The flow (flows/cutover.py) only sequences: ask, route, watch, record; a rollback is
:func:`o2v.rollback.route_back`.
"""
