"""Web enrichment of one event (pure functions; the consumer calls `enrich` before the insert).

Columns produced (migration 0004), all bounded:
  device_type         desktop | mobile | tablet | bot | other | '' (no user agent and no `$device_type`)
  browser             one of BROWSERS or '' (Chrome, Safari, Firefox, Edge, Opera, Samsung Internet, Other)
  os                  one of OSES or '' (Windows, macOS, iOS, Android, Linux, Chrome OS, Other)
  country             ISO 3166-1 alpha-2 from the client IP, '' when unknown (private, reserved, absent)
  acquisition_source  campaign | search | social | referral | direct | internal | '' (not a web event)
  referrer_host       host of `$referrer` without `www.`, lower case, at most 100 characters
  page_path           `$pathname`, else the path of `$current_url`; no query string; at most 300 characters
  client_ip           '' unless the consumer is told to keep it (OBS_CONSUMER_STORE_CLIENT_IP=true)

Inputs: what the SDK sent in `properties` wins (`$browser`, `$os`, `$device_type`, `$raw_user_agent`,
`$ip`, `$current_url`, `$pathname`, `$referrer`, `utm_*`); otherwise the request's User-Agent header and
client address, which ingest records on the event as the reserved fields `ingest_user_agent` and
`ingest_client_ip` (no column has those names: ClickHouse drops them).
The IP leaves the event here: `$ip` is removed from the stored properties unless it is kept.

Country: the documentation ranges (RFC 5737 / RFC 3849) map to fixed countries (DOCUMENTATION_RANGES:
the demo traffic and the tests use them; real traffic never comes from them), everything else is looked
up in the offline database shipped inside the `geoip2fast` package (no download at run time).

Long because it holds three small pure enrichers (user agent, client IP to country, acquisition
source) and the host tables the source rules read; each is tested on its own.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET, field

BROWSERS = ("Chrome", "Safari", "Firefox", "Edge", "Opera", "Samsung Internet", "Other")
OSES = ("Windows", "macOS", "iOS", "Android", "Linux", "Chrome OS", "Other")
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot", "other")
SOURCES = ("campaign", "search", "social", "referral", "direct", "internal")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
COLUMNS = ("device_type", "browser", "os", "country", "acquisition_source", "referrer_host", "page_path", "client_ip")
RESERVED = ("ingest_user_agent", "ingest_client_ip")  # set by ingest on each event; never stored
WEB_KEYS = frozenset(
    (
        "$current_url",
        "$pathname",
        "$referrer",
        "$raw_user_agent",
        "$ip",
        "$browser",
        "$os",
        "$device_type",
        "$session_id",
        "$host",
        *UTM_KEYS,
    )
)

# Documentation ranges -> countries (demo traffic and tests; never seen on the Internet).
DOCUMENTATION_RANGES = {
    "192.0.2.0/26": "DE",
    "192.0.2.64/26": "FR",
    "192.0.2.128/26": "GB",
    "192.0.2.192/26": "NL",
    "198.51.100.0/25": "US",
    "198.51.100.128/25": "CA",
    "203.0.113.0/25": "JP",
    "203.0.113.128/25": "BR",
    "2001:db8::/33": "ES",
    "2001:db8:8000::/33": "IT",
}
_DOC_NETS = [(ipaddress.ip_network(cidr), cc) for cidr, cc in DOCUMENTATION_RANGES.items()]

SEARCH_HOSTS = (
    "google.",
    "bing.com",
    "duckduckgo.com",
    "yahoo.",
    "yandex.",
    "baidu.com",
    "ecosia.org",
    "search.brave.com",
    "qwant.com",
    "startpage.com",
)
SOCIAL_HOSTS = (
    "facebook.com",
    "fb.com",
    "instagram.com",
    "t.co",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "reddit.com",
    "pinterest.",
    "tiktok.com",
    "youtube.com",
    "youtu.be",
    "mastodon.",
    "bsky.app",
    "threads.net",
    "news.ycombinator.com",
    "whatsapp.com",
    "telegram.org",
)

_BROWSER_FAMILIES = {
    "chrome": "Chrome",
    "chrome mobile": "Chrome",
    "chrome mobile ios": "Chrome",
    "chrome mobile webview": "Chrome",
    "chromium": "Chrome",
    "headlesschrome": "Chrome",
    "safari": "Safari",
    "mobile safari": "Safari",
    "mobile safari ui/wkwebview": "Safari",
    "firefox": "Firefox",
    "firefox mobile": "Firefox",
    "firefox ios": "Firefox",
    "edge": "Edge",
    "edge mobile": "Edge",
    "microsoft edge": "Edge",
    "opera": "Opera",
    "opera mobile": "Opera",
    "opera mini": "Opera",
    "samsung internet": "Samsung Internet",
}
_OS_FAMILIES = {
    "windows": "Windows",
    "mac os x": "macOS",
    "macos": "macOS",
    "mac os": "macOS",
    "ios": "iOS",
    "ipados": "iOS",
    "android": "Android",
    "linux": "Linux",
    "ubuntu": "Linux",
    "debian": "Linux",
    "fedora": "Linux",
    "chrome os": "Chrome OS",
    "chromeos": "Chrome OS",
}


def _text(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def browser_name(family: str) -> str:
    """A browser family (ua-parser's or an SDK's `$browser`) folded into BROWSERS."""
    f = family.strip().lower()
    if not f:
        return ""
    if f in _BROWSER_FAMILIES:
        return _BROWSER_FAMILIES[f]
    if f.startswith("firefox"):
        return "Firefox"
    if f.startswith("chrome"):
        return "Chrome"
    return "Other"


def os_name(family: str) -> str:
    """An OS family (ua-parser's or an SDK's `$os`) folded into OSES."""
    f = family.strip().lower()
    if not f:
        return ""
    if f in _OS_FAMILIES:
        return _OS_FAMILIES[f]
    if f.startswith("windows"):
        return "Windows"
    return "Other"


def device_name(value: str) -> str:
    v = value.strip().lower()
    if not v:
        return ""
    return v if v in DEVICE_TYPES else "other"


@lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> tuple[str, str, str]:
    """(device_type, browser, os) of a User-Agent string. Cached: a site sees few distinct strings."""
    if not ua:
        return "", "", ""
    from ua_parser import parse  # uses the ua-parser-rs accelerator when installed

    r = parse(ua[:1000])
    family = r.user_agent.family if r.user_agent else "Other"
    os_family = r.os.family if r.os else "Other"
    dev = r.device.family if r.device else "Other"
    low = ua.lower()
    if dev == "Spider" or "bot" in low or "crawler" in low or "spider" in low:
        device = "bot"
    elif not low.startswith("mozilla/"):
        device = "other"
    elif "ipad" in low or "tablet" in low or ("android" in low and "mobile" not in low):
        device = "tablet"
    elif "mobi" in low or "iphone" in low or "ipod" in low:
        device = "mobile"
    else:
        device = "desktop"
    return device, browser_name(family), os_name(os_family)


class EnrichmentUnavailable(Exception):
    """Enrichment cannot run at all here (its GeoIP database is missing or unreadable): a fault of the
    environment, the same for every event; the consumer holds its messages (consumer/faults.py)."""


class _Geo:
    """The geoip2fast database (IPv4 + IPv6 countries), loaded once per process on first use; a load
    that fails raises EnrichmentUnavailable and is tried again on the next lookup."""

    _db = None
    _lock = threading.Lock()
    path: str | None = None  # None: the database shipped inside the geoip2fast package

    @classmethod
    def db(cls) -> Any:  # geoip2fast.GeoIP2Fast (no type information)
        if cls._db is None:
            with cls._lock:
                if cls._db is None:
                    import geoip2fast
                    from geoip2fast import GeoIP2Fast

                    path = cls.path or os.path.join(os.path.dirname(geoip2fast.__file__), "geoip2fast-ipv6.dat.gz")
                    try:
                        cls._db = GeoIP2Fast(geoip2fast_data_file=path, verbose=False)
                    except Exception as exc:  # geoip2fast raises its own GeoIPError for a missing file
                        raise EnrichmentUnavailable(f"GeoIP database not loadable ({path}): {exc}") from exc
        return cls._db


@lru_cache(maxsize=65536)
def country(ip: str) -> str:
    """ISO alpha-2 country of an IP address; '' when it is not an address or has no country."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    for net, cc in _DOC_NETS:
        if addr.version == net.version and addr in net:
            return cc
    if not addr.is_global:
        return ""
    code = _Geo.db().lookup(str(addr)).country_code
    return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else ""


@lru_cache(maxsize=65536)
def host_of(url: str) -> str:
    if not url or url == "$direct":
        return ""
    try:
        host = (urlsplit(url if "//" in url else "//" + url).hostname or "").lower()
    except ValueError:
        return ""
    return (host[4:] if host.startswith("www.") else host)[:100]


def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    for p in patterns:
        if p.endswith("."):
            if host.startswith(p) or f".{p}" in host:
                return True
        elif host == p or host.endswith("." + p):
            return True
    return False


def acquisition_source(props: dict[str, Any], referrer_host: str, own_host: str) -> str:
    """campaign (any utm_* parameter), search / social (referrer's host), internal (referrer on the
    page's own host), referral (any other referrer), direct (no referrer). '' for non-web events."""
    w = web_props(props)
    return _source(_has_utm(w), _is_web(w), referrer_host, own_host)


def _has_utm(w: WebProps) -> bool:
    utm = (w.utm_source, w.utm_medium, w.utm_campaign, w.utm_term, w.utm_content)
    return utm != _NO_UTM and any(type(v) is str and v.strip() for v in utm)  # most events carry none


_NO_UTM = (UNSET,) * 5


def _is_web(w: WebProps) -> bool:
    return w.current_url is not UNSET or w.pathname is not UNSET or w.referrer is not UNSET


def _source(utm: bool, web: bool, referrer_host: str, own_host: str) -> str:
    if utm:
        return "campaign"
    if not web:
        return ""
    if not referrer_host:
        return "direct"
    if own_host and (referrer_host == own_host or referrer_host.endswith("." + own_host)):
        return "internal"
    if _matches(referrer_host, SEARCH_HOSTS):
        return "search"
    if _matches(referrer_host, SOCIAL_HOSTS):
        return "social"
    return "referral"


def page_path(props: dict[str, Any]) -> str:
    w = web_props(props)
    return _path(_str(w.pathname), _str(w.current_url))


def _path(pathname: str, url: str) -> str:
    path = pathname.strip()[:2000]
    if not path:
        url = url.strip()[:2000]
        path = _url_path(url) if url else ""
    return path.split("?")[0].split("#")[0][:300]


@lru_cache(maxsize=65536)
def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return ""


def wanted(props: Mapping[str, object], agent: str | None) -> bool:
    """Does the event have browser context (web properties, or a browser's User-Agent)? Events
    without (backend events) are stored as they came, unenriched."""
    if agent is not None and agent.startswith("Mozilla/"):
        return True
    return any(k in WEB_KEYS for k in props)


class WebProps(msgspec.Struct, frozen=True, gc=False):
    """The properties enrichment reads (WEB_KEYS); a JSON decoder into this type skips all others.
    UNSET: the key is absent (a present null still counts as present, as in `wanted`)."""

    current_url: Any = field(default=UNSET, name="$current_url")
    pathname: Any = field(default=UNSET, name="$pathname")
    referrer: Any = field(default=UNSET, name="$referrer")
    raw_user_agent: Any = field(default=UNSET, name="$raw_user_agent")
    ip: Any = field(default=UNSET, name="$ip")
    browser: Any = field(default=UNSET, name="$browser")
    os: Any = field(default=UNSET, name="$os")
    device_type: Any = field(default=UNSET, name="$device_type")
    session_id: Any = field(default=UNSET, name="$session_id")
    host: Any = field(default=UNSET, name="$host")
    utm_source: Any = UNSET
    utm_medium: Any = UNSET
    utm_campaign: Any = UNSET
    utm_term: Any = UNSET
    utm_content: Any = UNSET


NO_WEB = WebProps()  # equal to the WebProps of an event without any web property
assert {f.encode_name for f in msgspec.structs.fields(WebProps)} == WEB_KEYS


def enrich(ev: dict[str, Any], props: dict[str, Any], keep_ip: bool = False) -> tuple[list[str], dict[str, Any]]:
    """The enrichment columns (in COLUMNS order) of an event, and its properties to store (without
    `$ip` unless `keep_ip`). `ev` carries the reserved `ingest_user_agent` / `ingest_client_ip`."""
    columns = web_columns(web_props(props), ev.get("ingest_user_agent"), ev.get("ingest_client_ip"), keep_ip)
    if "$ip" in props and not keep_ip:
        props = {k: v for k, v in props.items() if k != "$ip"}
    return columns, props


_WEB_NAMES = {f.encode_name: f.name for f in msgspec.structs.fields(WebProps)}


def web_props(props: Mapping[str, object]) -> WebProps:
    """The WebProps of a properties dict (what the consumer's decoder reads from JSON directly)."""
    return WebProps(**{name: props[key] for key, name in _WEB_NAMES.items() if key in props})


def web_columns(w: WebProps, ingest_user_agent: object, ingest_client_ip: object, keep_ip: bool = False) -> list[str]:
    """The enrichment columns, in COLUMNS order. Each part is cached on its own inputs (a site sees
    few distinct user agents, pages and referrers), so a typical event costs a few dictionary
    lookups."""
    # the consumer's hot path: _str written out (a call each costs more than the test itself)
    ua, agent, kind, family, system = w.raw_user_agent, ingest_user_agent, w.device_type, w.browser, w.os
    device, browser, os_ = _agent(
        ua if type(ua) is str else "",
        agent if type(agent) is str else "",
        kind if type(kind) is str else "",
        family if type(family) is str else "",
        system if type(system) is str else "",
    )
    ip = _text(w.ip, 64) or _text(ingest_client_ip, 64)
    ref, url, host, pathname = w.referrer, w.current_url, w.host, w.pathname
    source, ref_host, path = _place(
        ref if type(ref) is str else "",
        url if type(url) is str else "",
        host if type(host) is str else "",
        pathname if type(pathname) is str else "",
        _has_utm(w),
        _is_web(w),
    )
    return [device, browser, os_, country(ip) if ip else "", source, ref_host, path, ip if keep_ip else ""]


def _str(value: object) -> str:
    return value if type(value) is str else ""


@lru_cache(maxsize=4096)
def _agent(raw_ua: str, ingest_ua: str, device_type: str, browser: str, os_: str) -> tuple[str, str, str]:
    ua = raw_ua.strip()[:1000] or ingest_ua.strip()[:1000]
    device, family, system = parse_user_agent(ua) if ua else ("", "", "")
    return (
        device_name(device_type.strip()[:50]) or device,
        browser_name(browser.strip()[:100]) or family,
        os_name(os_.strip()[:100]) or system,
    )


@lru_cache(maxsize=16384)  # keyed by whole URLs: a few MB for typical ones, bounded for long ones
def _place(referrer: str, url: str, host: str, pathname: str, utm: bool, web: bool) -> tuple[str, str, str]:
    """(acquisition_source, referrer_host, page_path)."""
    ref_host = host_of(referrer.strip()[:2000])
    own_host = host_of(url.strip()[:2000]) or host_of(host.strip()[:300])
    return _source(utm, web, ref_host, own_host), ref_host, _path(pathname, url)
