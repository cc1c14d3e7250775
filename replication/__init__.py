"""Replication: keep chosen images identical in another registry (push) or here (pull).

`models.py` the remotes, rules, queue and log; `rules.py` the filters; `client.py` the
remote's OCI verbs over the proxy's upstream client; `push.py` and `pull.py` the copy in
each direction; `queue.py` claims; `runner.py` runs a job; `triggers.py` queues them;
`manage.py replicate` is the worker (deploy/registry-replication.service). docs/replication.md.
"""
