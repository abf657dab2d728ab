"""The production benchmark's step limits, shared by the runner and its page."""

from __future__ import annotations

#: A step (in this process or a child) running longer than this stops the case.
STEP_LIMIT_S = 600
#: The build is setup, not a measured step: LlamaIndex's add into Qdrant local mode takes
#: about 10 minutes for 200k points here, so it gets a longer limit.
BUILD_LIMIT_S = 1800
