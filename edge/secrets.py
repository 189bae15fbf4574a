"""Camera passwords on the edge: named secrets from a file or the environment, filled into stream URLs.

The town folder and the hub hold only a secret's name (``streams.password_ref``) and a ``{password}``
placeholder in the URL; the value lives on the edge box, in a YAML file of ``name: value`` lines
(``gridwatch edge --secrets FILE``, readable by the edge's user only) or in ``$GRIDWATCH_SECRET_<NAME>``
(the name upper-cased, other characters than letters and digits as ``_``). The file wins. Values are
never logged: log lines go through gridwatch.logs.redact, and errors name the secret, not its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from gridwatch.config.schema import PASSWORD_PLACEHOLDER, Camera

ENV_PREFIX = "GRIDWATCH_SECRET_"


class SecretsError(Exception):
    """A secrets file that cannot be used, or a secret a camera needs that is not there."""


def env_name(name: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class Secrets:
    def __init__(self, values: Mapping[str, str], environ: Mapping[str, str] | None = None,
                 source: str = "") -> None:
        self._values = dict(values)
        self._environ = os.environ if environ is None else environ
        self.source = source

    @classmethod
    def load(cls, path: Path | None) -> Secrets:
        """The secrets file (or none: the environment only)."""
        if path is None:
            return cls({}, source="")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SecretsError(f"secrets file {path}: cannot read: {exc.strerror}") from None
        except (yaml.YAMLError, UnicodeDecodeError):
            raise SecretsError(f"secrets file {path}: not a YAML mapping of name: value") from None
        if data is None:
            data = {}
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise SecretsError(f"secrets file {path}: not a YAML mapping of name: value")
        bad = [k for k, v in data.items() if not isinstance(v, str | int)]
        if bad:
            raise SecretsError(f"secrets file {path}: the value of {bad[0]!r} is not text")
        return cls({k: str(v) for k, v in data.items()}, source=str(path))

    def get(self, name: str) -> str | None:
        if name in self._values:
            return self._values[name]
        return self._environ.get(env_name(name))

    def resolve(self, camera: Camera) -> Camera:
        """The camera with ``{password}`` filled in its URLs; :class:`SecretsError` naming what is
        missing (never a value)."""
        streams = camera.streams
        if streams.password_ref is None:
            return camera
        value = self.get(streams.password_ref)
        if value is None:
            where = f"the secrets file {self.source} or " if self.source else ""
            raise SecretsError(f"camera {camera.id}: secret {streams.password_ref!r} is not set (put it in "
                               f"{where}${env_name(streams.password_ref)} on this edge box)")
        from urllib.parse import quote

        filled = quote(value, safe="")  # a password with '@' or ':' must not break the URL
        update = {"main": streams.main.replace(PASSWORD_PLACEHOLDER, filled)}
        if streams.sub is not None:
            update["sub"] = streams.sub.replace(PASSWORD_PLACEHOLDER, filled)
        # model_construct: the filled URL holds a password, which validation rightly refuses in a
        # town file; this copy lives only in the edge's memory.
        new_streams = type(streams).model_construct(**(streams.model_dump() | update))
        return camera.model_copy(update={"streams": new_streams})
