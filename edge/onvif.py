"""The ONVIF calls the edge makes to a camera, through onvif-zeep-async (its bundled WSDL files).

Three exchanges: :func:`read_device` (GetServices, GetProfiles, GetStreamUri and GetSnapshotUri of the
main and sub profiles, GetSystemDateAndTime), :func:`read_clock` (GetSystemDateAndTime alone) and
:func:`goto_home` (PTZ GotoHomePosition). Each opens its own client and closes it; they are
coroutines, run by :class:`edge.onvif_watch.OnvifWatch` on its own thread, never on the analysis
loop. Failures become :class:`OnvifFailure` with a sentence a maintainer can act on; a password is
never part of one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from gridwatch.config.schema import CameraOnvif


class OnvifFailure(Exception):
    """An ONVIF exchange that did not work; ``str()`` is what the health page shows."""


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """What the device's profiles and clock said (URIs as the device gave them, no credentials)."""

    main_profile: str
    main_uri: str
    sub_uri: str | None
    snapshot_uri: str | None
    clock_offset_s: float | None


def with_credentials(uri: str, user: str, password: str | None) -> str:
    """``uri`` with ``user:password@`` put in (percent-encoded), unless it already carries an account:
    devices give stream URIs without one, and the reader needs it to log in."""
    parts = urlsplit(uri)
    if not user or "@" in parts.netloc or parts.scheme not in ("rtsp", "rtsps", "http", "https"):
        return uri
    account = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{account}@{parts.netloc}"))


def without_credentials(uri: str | None) -> str | None:
    """``uri`` without any ``user:password@`` (what is reported to the hub and logged)."""
    if uri is None:
        return None
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def clock_offset(device_utc: datetime, sent: datetime, received: datetime) -> float:
    """Device clock minus ours, seconds, taking our clock at the middle of the exchange."""
    middle = sent + (received - sent) / 2
    return round((device_utc - middle).total_seconds(), 1)


def describe(exc: BaseException, cfg: CameraOnvif) -> str:
    """A maintainer's sentence for a failed exchange (never the password)."""
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    where = f"ONVIF at {cfg.host}:{cfg.port}"
    if "notauthorized" in low or "not authorized" in low or "401" in low or "unauthorized" in low:
        return (f"{where} refused the login of user {cfg.user!r}: wrong user or password (check the "
                f"secret {cfg.password_ref!r} on the edge box and the account on the camera)")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError) or "timeout" in low or "timed out" in low:
        return f"{where} did not answer within {cfg.timeout_s:g} s"
    if "cannot connect" in low or "connection refused" in low or "connect call failed" in low:
        return f"{where} is unreachable (connection refused or no route)"
    return f"{where} failed: {text[:300]}"


async def _camera(cfg: CameraOnvif, password: str | None) -> Any:
    from onvif import ONVIFCamera  # the client and its WSDL files load only on boxes that use ONVIF

    # no_cache: zeep's SQLite cache would write into the edge user's home; the WSDL is on disk anyway.
    return ONVIFCamera(cfg.host, cfg.port, cfg.user, password or "", no_cache=True)


async def _utc_of(devicemgmt: Any) -> tuple[datetime, datetime, datetime]:
    """(device UTC, sent, received) from GetSystemDateAndTime."""
    sent = datetime.now(UTC)
    answer = await devicemgmt.GetSystemDateAndTime()
    received = datetime.now(UTC)
    d = answer.UTCDateTime
    if d is None:
        raise OnvifFailure("the device's GetSystemDateAndTime has no UTCDateTime")
    device = datetime(d.Date.Year, d.Date.Month, d.Date.Day, d.Time.Hour, d.Time.Minute, d.Time.Second,
                      tzinfo=UTC)
    return device, sent, received


async def _exchange(cfg: CameraOnvif, password: str | None, body: Any) -> Any:
    """Run ``body(camera)`` with a connected client, within the camera's timeout; close it after."""
    cam = None
    try:
        async with asyncio.timeout(cfg.timeout_s):
            cam = await _camera(cfg, password)
            return await body(cam)
    except OnvifFailure:
        raise
    except Exception as exc:  # zeep's Fault, ONVIFError, aiohttp's errors, timeouts: all one sentence
        raise OnvifFailure(describe(exc, cfg)) from exc
    finally:
        if cam is not None:
            with contextlib.suppress(Exception):  # closing a half-open client must not hide the failure
                await cam.close()


async def read_device(cfg: CameraOnvif, password: str | None) -> DeviceReading:
    """Profiles (main and sub stream URIs, the main profile's snapshot URI) and the clock offset."""

    async def body(cam: Any) -> DeviceReading:
        await cam.update_xaddrs()  # GetServices (or GetCapabilities): where media and PTZ answer
        media = await cam.create_media_service()
        profiles = list(await media.GetProfiles() or [])
        if not profiles:
            raise OnvifFailure(f"ONVIF at {cfg.host}:{cfg.port} lists no media profiles")
        tokens = [p.token for p in profiles]
        main = _pick(tokens, cfg.main_profile, 0, "main_profile")
        sub = _pick(tokens, cfg.sub_profile, 1, "sub_profile") if (cfg.sub_profile or len(tokens) > 1) \
            else None
        setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
        main_uri = (await media.GetStreamUri({"StreamSetup": setup, "ProfileToken": main})).Uri
        sub_uri = None
        if sub is not None and sub != main:
            sub_uri = (await media.GetStreamUri({"StreamSetup": setup, "ProfileToken": sub})).Uri
        try:
            snapshot = (await media.GetSnapshotUri({"ProfileToken": main})).Uri
        except Exception:  # snapshots are optional in ONVIF Profile S
            snapshot = None
        devicemgmt = await cam.create_devicemgmt_service()
        device, sent, received = await _utc_of(devicemgmt)
        return DeviceReading(main_profile=main, main_uri=main_uri, sub_uri=sub_uri, snapshot_uri=snapshot,
                             clock_offset_s=clock_offset(device, sent, received))

    result: DeviceReading = await _exchange(cfg, password, body)
    return result


def _pick(tokens: list[str], wanted: str | None, index: int, field: str) -> str:
    if wanted is not None:
        if wanted not in tokens:
            raise OnvifFailure(f"onvif.{field} {wanted!r} is not one of the device's profiles "
                               f"({', '.join(tokens)})")
        return wanted
    return tokens[min(index, len(tokens) - 1)]


async def read_clock(cfg: CameraOnvif, password: str | None) -> float:
    """The device clock's offset from ours, seconds (GetSystemDateAndTime)."""

    async def body(cam: Any) -> float:
        devicemgmt = await cam.create_devicemgmt_service()
        return clock_offset(*await _utc_of(devicemgmt))

    result: float = await _exchange(cfg, password, body)
    return result


async def goto_home(cfg: CameraOnvif, password: str | None, profile: str) -> None:
    """PTZ GotoHomePosition on ``profile``."""

    async def body(cam: Any) -> None:
        await cam.update_xaddrs()
        ptz = await cam.create_ptz_service()
        await ptz.GotoHomePosition({"ProfileToken": profile})

    await _exchange(cfg, password, body)
