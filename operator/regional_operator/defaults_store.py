"""The region defaults as the operator sees them: loaded once, reloaded when the mounted file changes.

The Helm chart mounts the defaults from a ConfigMap; the kubelet swaps the file in place, so a cheap mtime check
on every reconcile (and a watcher that wakes every RegionalDeployment) makes a defaults change update the alarms
in place without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

from .defaults import DEFAULTS_ENV, RegionDefaults, load_defaults


class DefaultsStore:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.environ.get(DEFAULTS_ENV)
        self._stamp: float | None = None
        self._defaults = load_defaults(self.path)
        self._stamp = self._mtime()

    def _mtime(self) -> float | None:
        if not self.path:
            return None
        try:
            return Path(self.path).stat().st_mtime
        except OSError:
            return None

    def refresh(self) -> bool:
        """Reload if the file changed; True when it did (a bad new file keeps the old defaults and raises)."""
        stamp = self._mtime()
        if stamp == self._stamp:
            return False
        self._defaults = load_defaults(self.path)
        self._stamp = stamp
        return True

    @property
    def current(self) -> RegionDefaults:
        return self._defaults
