"""HTTP edge of /v2/: one module per API concern; parse, validate, call a service, set headers."""
