"""Access control: who the caller is (credentials, Bearer tokens), what they may do (grants),
and the Docker token protocol that carries the answer to clients.
"""
