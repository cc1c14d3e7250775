"""Fixtures shared by every test directory; each directory's conftest.py holds its own.

tests/api, tests/services, tests/storage and tests/auth run in-process against the Django
test client. tests/e2e starts gunicorn (and dockerd) and drives real clients over
loopback; those tests carry the `e2e` marker, so `pytest -m "not e2e"` skips them.
"""
