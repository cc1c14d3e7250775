"""Small helpers without Django, shared by settings.py, the services, the admin, the
commands and the portal: private files of the data directory (files) and durations and
byte counts as operators write them (units)."""
