"""Several runs in one exporter: which logs to follow and the names of their runs (``sources``),
the files globs match now (``discovery``), which GPU processes are whose (``attribution``), one
run with its watcher and energy (``entry``), and the set of runs followed (``registry``)."""
