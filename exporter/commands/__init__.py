"""The commands a person runs (``serve``, ``run``, ``status``, ``plan``, ``slack-test``): the
command line, the one frozen configuration, and the wiring of each command — the only modules that
see the whole configuration; every other package gets its own narrow settings."""
