"""The dispatch centre's web console: pages, static files, login session and the town's layout.

``install_console(app)`` adds it all to the hub's FastAPI app; nothing happens at import time.
"""

from __future__ import annotations

from central.console.router import install_console

__all__ = ["install_console"]
