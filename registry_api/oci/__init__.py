"""The OCI distribution protocol as data, without Django: the grammar of names, tags and
digests (reference), manifest media types and what a manifest refers to (mediatypes),
image configs (imageconfig), and the error codes with their messages and statuses
(errors)."""
