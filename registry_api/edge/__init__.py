"""What wraps every request around the views: the error envelope and client-address
middleware, the request log and its line formats, the Prometheus metrics, the manifest fast
path beneath Django's handler, and the HTTP details of the protocol (streamed bodies,
ranges, links)."""
