"""Database helpers beneath the services: the repository and digest locks (locking), hot
queries compiled to SQL once (precompiled), and creating a row a lookup has just not
found (rows)."""
