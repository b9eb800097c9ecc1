"""The HTTP endpoint: the server (listen backlog, timeouts, bounded workers, read-only routes) and
the shared encoding of ``/metrics`` expositions."""
