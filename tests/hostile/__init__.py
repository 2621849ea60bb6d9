"""Hostile-input tests: every input generated here (real files, real archives), each case ending in
a clean result or one error line (exit 2), never a traceback, a hang or unbounded memory."""
