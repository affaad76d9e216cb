"""Where webhooks may go: only http(s) URLs whose host the admin allowed (WEBHOOK_ALLOWED_HOSTS: names,
`*.example.gov.cn` for a domain; WEBHOOK_ALLOWED_NETWORKS: CIDR networks such as a government intranet).

Invariant (no SSRF, no DNS rebinding): the name is resolved at send time and the POST goes to the very
address that was checked (`resolve_target`); an address that is loopback, link-local, private, reserved
or multicast is refused unless it lies in an allowed network; redirects are never followed (the sender
treats a 3xx as a failure)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UrlRefused(ValueError):
    """The URL may not be used (the message says why)."""


@dataclass(frozen=True)
class UrlPolicy:
    hosts: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_config(cls, hosts: str | Iterable[str], networks: str | Iterable[str]) -> UrlPolicy:
        def items(value: str | Iterable[str]) -> list[str]:
            parts = value.split(",") if isinstance(value, str) else list(value)
            return [p.strip().lower() for p in parts if p and p.strip()]

        return cls(tuple(items(hosts)), tuple(ipaddress.ip_network(n, strict=False) for n in items(networks)))

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False

    def in_networks(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP the connection goes to
    path: str  # path and query, as sent in the request line


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL without user info; UrlRefused otherwise."""
    if len(url) > 500:
        raise UrlRefused("URL 过长(最多 500 个字符)")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("只接受 http 或 https 地址")
    if parts.username or parts.password:
        raise UrlRefused("URL 不得包含用户名或密码")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("URL 缺少主机名")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused("URL 的端口无效") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, path


def check_url(url: str, policy: UrlPolicy) -> str:
    """The URL, normalised, when its host is allowed by name or (an IP literal) by network; else UrlRefused.
    Where it resolves to is checked again at every send (`resolve_target`)."""
    host = parse_url(url)[1]
    literal = _literal(host)
    if literal is not None:
        if not policy.in_networks(literal):
            raise UrlRefused(f"地址 {host} 不在管理员允许的网段内(WEBHOOK_ALLOWED_NETWORKS)")
    elif not policy.host_allowed(host) and not policy.networks:
        # A name outside WEBHOOK_ALLOWED_HOSTS may still be an intranet name: it must then resolve into
        # an allowed network at every send.
        raise UrlRefused(f"主机 {host} 不在管理员允许的名单内(WEBHOOK_ALLOWED_HOSTS)")
    return url.strip()


def system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def address_allowed(host: str, address: IPAddress, policy: UrlPolicy) -> bool:
    """An address in an allowed network always; otherwise only a public (global) address of an allowed name."""
    if policy.in_networks(address):
        return True
    return policy.host_allowed(host) and address.is_global and not address.is_multicast


def resolve_target(url: str, policy: UrlPolicy, resolver: Resolver = system_resolver) -> Target:
    """Resolve the URL's host now and pick the first address the policy allows; UrlRefused when none is."""
    scheme, host, port, path = parse_url(url)
    literal = _literal(host)
    if literal is None and not policy.host_allowed(host) and not policy.networks:
        raise UrlRefused(f"主机 {host} 不在管理员允许的名单内")
    try:
        candidates = [str(literal)] if literal is not None else resolver(host, port)
    except OSError as exc:
        raise UrlRefused(f"无法解析主机 {host}: {exc}") from exc
    for candidate in candidates:
        address = ipaddress.ip_address(candidate.split("%", 1)[0])
        if address_allowed(host, address, policy):
            return Target(scheme, host, port, str(address), path)
    raise UrlRefused(f"主机 {host} 解析到的地址({', '.join(candidates)})不在允许的范围内")
