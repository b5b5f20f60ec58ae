"""Install the network guard (tests/netguard.py) in every Python process started with this folder on PYTHONPATH.

Python imports ``sitecustomize`` at start-up, before the program's own code,
so telemetry that runs at import time or in a grandchild process is caught
too (children inherit ``PYTHONPATH`` and ``NETGUARD_LOG``). Each process that
installed the guard appends its pid and argv to ``$NETGUARD_LOG.installed``,
so a test can check that the guard really ran in the process it cares about;
refused attempts are appended to ``$NETGUARD_LOG`` as JSON lines.
"""

import json
import os
import sys

_log = os.environ.get("NETGUARD_LOG")
if _log:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        from netguard import NetGuard
    finally:
        sys.path.pop(0)
    NetGuard(_log).install()
    with open(_log + ".installed", "a", encoding="utf-8") as _out:
        _out.write(json.dumps({"pid": os.getpid(), "argv": getattr(sys, "orig_argv", sys.argv)}) + "\n")
