"""Rows the replication service tests start from: a remote and a push rule."""
from __future__ import annotations

import pytest

from replication.models import Remote, Rule


@pytest.fixture
def remote(db) -> Remote:
    return Remote.objects.create(name="site-b", upstream_url="http://127.0.0.1:9", max_concurrent=1)


@pytest.fixture
def rule(remote) -> Rule:
    return Rule.objects.create(name="team-to-b", remote=remote, repositories="team/**", tag_filter="v*",
                               replicate_deletes=True)
