"""How many runs one exporter follows, and the open files that takes: each followed log is an
open file, and many systems let a process open only 1,024 unless it asks for more."""

from __future__ import annotations

import logging
import resource

from exporter.errors import LogOnce

log = logging.getLogger(__name__)

MAX_RUNS = 2000  # the most runs one exporter follows (README, Performance: measured up to 1,000)
SPARE_FILES = 256  # beside the logs: connections, the state file, /proc reads


_said = LogOnce(log, logging.WARNING)


def ensure_open_files(runs: int) -> int:
    """Raise this process's limit of open files (up to the hard limit) so that ``runs`` logs fit;
    returns the limit. A hard limit too low is said once, with the fix."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return -1
    wanted = runs + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        _said(soft, "this process may open %d files, too few to follow %d logs: raise the limit (ulimit -n %d, "
              "LimitNOFILE= in a systemd unit, ulimits: nofile: in docker compose)", soft, runs, wanted)
    return soft
