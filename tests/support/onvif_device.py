"""A local ONVIF device stand-in: answers the real SOAP 1.2 calls on 127.0.0.1 with ONVIF XML.

It checks the WS-Security UsernameToken (PasswordDigest = Base64(SHA-1(nonce + created + password)))
as a camera does, and answers a wrong one with the ONVIF ``ter:NotAuthorized`` fault.
GetSystemDateAndTime is answered without a login (as the ONVIF core spec allows). Served:
GetServices, GetCapabilities, GetSystemDateAndTime (device), GetProfiles, GetStreamUri,
GetSnapshotUri (media), GotoHomePosition (PTZ). Every call is kept in ``calls`` (operation name and
whether its login was good), so a test can say what the edge asked.

    with OnvifDevice(user="admin", password="pw", streams={"main": URL, "sub": URL2}) as dev:
        dev.port, dev.calls
"""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree as ET

from tests.support.net import free_port

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TT = "http://www.onvif.org/ver10/schema"
NS = f'xmlns:s="{SOAP}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" xmlns:tptz="{TPTZ}" xmlns:tt="{TT}" ' \
     'xmlns:ter="http://www.onvif.org/ver10/error"'
#: Operations a device answers without a login.
OPEN = {"GetSystemDateAndTime"}


def digest(nonce_b64: str, created: str, password: str) -> str:
    raw = base64.b64decode(nonce_b64) + created.encode() + password.encode()
    return base64.b64encode(hashlib.sha1(raw).digest()).decode()


class OnvifDevice:
    def __init__(self, user: str, password: str, streams: dict[str, str], clock_offset_s: float = 0.0,
                 ptz: bool = True) -> None:
        self.user, self.password, self.streams = user, password, streams
        self.clock_offset_s, self.ptz = clock_offset_s, ptz
        self.calls: list[tuple[str, bool]] = []
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]

    def start(self) -> OnvifDevice:
        device = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, text = device.answer(body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OnvifDevice:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- SOAP -------------------------------------------------------------------------------------

    def _logged_in(self, envelope: ET.Element) -> bool:
        token = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        user = token.findtext(f"{{{WSSE}}}Username") or ""
        given = token.findtext(f"{{{WSSE}}}Password") or ""
        nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
        created = token.findtext(f"{{{WSU}}}Created") or ""
        return user == self.user and given == digest(nonce, created, self.password)

    def answer(self, body: bytes) -> tuple[int, str]:
        try:
            envelope = ET.fromstring(body)
            request = envelope.find(f"{{{SOAP}}}Body")[0]  # type: ignore[index]
        except (ET.ParseError, TypeError, IndexError):
            return 400, _fault("s:Sender", "ter:WellFormed", "not a SOAP envelope")
        op = request.tag.rpartition("}")[2]
        ok = self._logged_in(envelope)
        self.calls.append((op, ok))
        if op not in OPEN and not ok:
            return 400, _fault("s:Sender", "ter:NotAuthorized", "Sender not Authorized")
        handler = getattr(self, f"_op_{op}", None)
        if handler is None or (op == "GotoHomePosition" and not self.ptz):
            return 400, _fault("s:Receiver", "ter:ActionNotSupported", f"{op} is not supported")
        return 200, _envelope(handler(request))

    def _op_GetServices(self, _: ET.Element) -> str:
        items = [(TDS, "device_service"), (TRT, "media_service")]
        items += [(TPTZ, "ptz_service")] if self.ptz else []
        services = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self.base}/onvif/{path}"
            "</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
            "</tds:Service>" for ns, path in items)
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    def _op_GetCapabilities(self, _: ET.Element) -> str:
        ptz = f"<tt:PTZ><tt:XAddr>{self.base}/onvif/ptz_service</tt:XAddr></tt:PTZ>" if self.ptz else ""
        return ("<tds:GetCapabilitiesResponse><tds:Capabilities>"
                f"<tt:Device><tt:XAddr>{self.base}/onvif/device_service</tt:XAddr></tt:Device>"
                f"<tt:Media><tt:XAddr>{self.base}/onvif/media_service</tt:XAddr></tt:Media>{ptz}"
                "</tds:Capabilities></tds:GetCapabilitiesResponse>")

    def _op_GetSystemDateAndTime(self, _: ET.Element) -> str:
        now = datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)
        local = now + timedelta(hours=8)

        def dt(t: datetime) -> str:
            return (f"<tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute><tt:Second>"
                    f"{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year><tt:Month>"
                    f"{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date>")

        return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                "<tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone>"
                f"<tt:UTCDateTime>{dt(now)}</tt:UTCDateTime><tt:LocalDateTime>{dt(local)}</tt:LocalDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def _profile(self, token: str, width: int, height: int) -> str:
        return (f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
                f'<tt:VideoSourceConfiguration token="vsc0"><tt:Name>vsc0</tt:Name>'
                f'<tt:UseCount>2</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken>'
                f'<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>'
                f'<tt:VideoEncoderConfiguration token="vec-{token}"><tt:Name>vec-{token}</tt:Name>'
                f"<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution>"
                f"<tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
                f"<tt:Quality>4</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit>"
                f"<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit>"
                f"</tt:RateControl><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>"
                f"0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL>"
                f"<tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT60S"
                f"</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>")

    def _op_GetProfiles(self, _: ET.Element) -> str:
        profiles = self._profile("main", 1920, 1080)
        if "sub" in self.streams:
            profiles += self._profile("sub", 640, 360)
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def _uri(self, request: ET.Element, tag: str, uri_of: Any) -> str:
        token = request.findtext(f"{{{TRT}}}ProfileToken") or ""
        return (f"<trt:{tag}><trt:MediaUri><tt:Uri>{_xml(uri_of(token))}</tt:Uri>"
                "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
                "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{tag}>")

    def _op_GetStreamUri(self, request: ET.Element) -> str:
        return self._uri(request, "GetStreamUriResponse", lambda t: self.streams.get(t, self.streams["main"]))

    def _op_GetSnapshotUri(self, request: ET.Element) -> str:
        return self._uri(request, "GetSnapshotUriResponse",
                         lambda t: f"{self.base}/onvif/snapshot?profile={t}")

    def _op_GotoHomePosition(self, _: ET.Element) -> str:
        return "<tptz:GotoHomePositionResponse/>"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _envelope(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NS}><s:Body>{body}</s:Body></s:Envelope>'


def _fault(code: str, subcode: str, reason: str) -> str:
    return _envelope(f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
                     f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason>'
                     "</s:Fault>")
