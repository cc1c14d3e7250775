"""Portal views: read through selectors, act through services, never through /v2/ views.

One module per page family: `dashboard`, `repositories`, `manifests`, `deletes` (the three
confirmed deletes), `settings` (a repository's settings and grants, for its admins), `api` (the JSON summary and the scripts' DELETE), `auth` (sign in/out).
"""
