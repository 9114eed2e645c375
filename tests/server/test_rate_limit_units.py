"""Token buckets, client addresses, limit logging and config checks, without a hub."""

import ipaddress
import logging

import pytest

from ris_server.client_address import (
    CLIENT_ADDRESS_KEY,
    EDGE_SIGNATURE_KEY,
    ClientAddressResolver,
    bucket_address,
    parse_grpc_peer,
    parse_network,
    parse_networks,
    resolve_client,
    sign_client_address,
    verified_edge_address,
)
from ris_server.config import ConfigError, load_config
from ris_server.ratelimit import BucketSpec, InMemoryBuckets, whole_seconds
from ris_server.request_limits import (
    LimitLog,
    RequestLimiter,
    address_key,
    principal_key,
)
from ris_server.tokens import Principal

EDGE_KEY = bytes(range(32))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_buckets(rpm=60, burst=3, **kwargs):
    clock = FakeClock()
    buckets = InMemoryBuckets(BucketSpec.per_minute(rpm, burst), clock=clock, **kwargs)
    return buckets, clock


# Token buckets ---------------------------------------------------------------


def test_bucket_burst_then_rejection():
    buckets, _clock = make_buckets(rpm=60, burst=3)
    for _ in range(3):
        assert buckets.decide(["a"]).allowed
    decision = buckets.decide(["a"])
    assert not decision.allowed
    assert decision.limited_key == "a"
    assert decision.retry_after == pytest.approx(1.0)


def test_bucket_refills_at_rate():
    buckets, clock = make_buckets(rpm=30, burst=2)  # one token per 2 s
    assert buckets.decide(["a"]).allowed
    assert buckets.decide(["a"]).allowed
    clock.now += 1.0
    half = buckets.decide(["a"])
    assert not half.allowed
    assert half.retry_after == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.decide(["a"]).allowed
    assert not buckets.decide(["a"]).allowed


def test_bucket_never_exceeds_capacity():
    buckets, clock = make_buckets(rpm=60, burst=2)
    assert buckets.decide(["a"]).allowed
    clock.now += 3600.0
    assert buckets.decide(["a"]).allowed
    assert buckets.decide(["a"]).allowed
    assert not buckets.decide(["a"]).allowed


def test_rejected_request_takes_no_token():
    buckets, _clock = make_buckets(rpm=60, burst=2)
    assert buckets.decide(["b"]).allowed
    assert buckets.decide(["b"]).allowed
    for _ in range(5):
        decision = buckets.decide(["a", "b"])
        assert not decision.allowed
        assert decision.limited_key == "b"
    # "a" lost nothing to the rejected requests.
    assert buckets.decide(["a"]).allowed
    assert buckets.decide(["a"]).allowed
    assert not buckets.decide(["a"]).allowed


def test_retry_after_is_longest_wait():
    buckets, clock = make_buckets(rpm=60, burst=1)
    assert buckets.decide(["a"]).allowed
    clock.now += 0.5
    assert buckets.decide(["b"]).allowed
    decision = buckets.decide(["a", "b"])
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(1.0)
    assert decision.limited_key == "a"


def test_idle_buckets_expire():
    buckets, clock = make_buckets(rpm=60, burst=3)  # full again after 3 s
    buckets.decide(["old"])
    clock.now += 2.0
    buckets.decide(["recent"])
    clock.now += 1.5
    buckets.decide(["new"])
    assert "old" not in buckets
    assert "recent" in buckets
    assert len(buckets) == 2


def test_key_flood_stays_bounded():
    buckets, clock = make_buckets(rpm=1, burst=5, max_buckets=100)
    buckets.decide(["victim"])
    buckets.decide(["victim"])
    for index in range(10_000):
        buckets.decide([f"fresh-{index}"])
        assert len(buckets) <= 100
    assert "fresh-9999" in buckets
    assert "fresh-9900" in buckets
    assert "fresh-9899" not in buckets
    assert "victim" not in buckets


def test_recently_used_bucket_survives_eviction():
    buckets, clock = make_buckets(rpm=1, burst=50, max_buckets=3)
    buckets.decide(["a"])
    buckets.decide(["b"])
    buckets.decide(["c"])
    buckets.decide(["a"])
    buckets.decide(["d"])
    assert "a" in buckets
    assert "b" not in buckets


def test_bucket_spec_rejects_zero():
    with pytest.raises(ValueError, match="at least 1"):
        BucketSpec.per_minute(0, 5)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (2.5, 3), (10.0, 10)],
)
def test_whole_seconds_rounds_up(seconds, expected):
    assert whole_seconds(seconds) == expected


# Client addresses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("ipv4:10.1.2.3:5000", "10.1.2.3"),
        ("ipv6:[::1]:5000", "::1"),
        ("ipv6:[::ffff:192.0.2.7]:443", "192.0.2.7"),
        ("ipv6:[2001:db8::5]:80", "2001:db8::5"),
    ],
)
def test_grpc_peer_parsed(peer, expected):
    assert parse_grpc_peer(peer) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("peer", ["unix:/tmp/sock", "", None, "ipv4:nonsense:1"])
def test_grpc_peer_without_address(peer):
    assert parse_grpc_peer(peer) is None


TRUSTED = parse_networks(["10.0.0.0/8", "fd00::/8"])


def address(text):
    return ipaddress.ip_address(text)


def test_untrusted_peer_ignores_forwarded_for():
    client = resolve_client(address("192.0.2.1"), ["198.51.100.9"], TRUSTED)
    assert client == address("192.0.2.1")


def test_trusted_peer_takes_forwarded_client():
    hops = ["198.51.100.9", "203.0.113.5", "10.0.0.7"]
    client = resolve_client(address("10.0.0.1"), hops, TRUSTED)
    # The walk stops at the first untrusted hop from the right; the
    # leftmost entry could have been written by the client itself.
    assert client == address("203.0.113.5")


def test_trusted_peer_ipv6_proxy():
    client = resolve_client(address("fd00::1"), ["2001:db8::9"], TRUSTED)
    assert client == address("2001:db8::9")


def test_all_hops_trusted_takes_leftmost():
    hops = ["10.0.0.3", "10.0.0.2"]
    client = resolve_client(address("10.0.0.1"), hops, TRUSTED)
    assert client == address("10.0.0.3")


def test_invalid_hop_stops_walk():
    hops = ["198.51.100.9", "garbage", "10.0.0.2"]
    client = resolve_client(address("10.0.0.1"), hops, TRUSTED)
    assert client == address("10.0.0.2")


def test_trusted_peer_without_header_is_client():
    client = resolve_client(address("10.0.0.1"), [], TRUSTED)
    assert client == address("10.0.0.1")


def test_edge_signature_verified():
    signature = sign_client_address(EDGE_KEY, "198.51.100.4")
    verified = verified_edge_address(EDGE_KEY, "198.51.100.4", signature)
    assert verified == address("198.51.100.4")


@pytest.mark.parametrize(
    ("key", "claimed", "signed_for"),
    [
        (bytes(32), "198.51.100.4", "198.51.100.4"),  # other key
        (EDGE_KEY, "198.51.100.5", "198.51.100.4"),  # other address
        (None, "198.51.100.4", "198.51.100.4"),  # hub without a key
    ],
)
def test_edge_signature_rejected(key, claimed, signed_for):
    signature = sign_client_address(EDGE_KEY, signed_for)
    assert verified_edge_address(key, claimed, signature) is None


def test_edge_address_needs_signature():
    assert verified_edge_address(EDGE_KEY, "198.51.100.4", None) is None
    assert verified_edge_address(EDGE_KEY, "198.51.100.4", "") is None
    assert verified_edge_address(EDGE_KEY, "198.51.100.4", "00" * 32) is None


def test_resolver_prefers_signed_edge_address():
    resolver = ClientAddressResolver((), EDGE_KEY)
    signed = [
        (CLIENT_ADDRESS_KEY, "198.51.100.4"),
        (EDGE_SIGNATURE_KEY, sign_client_address(EDGE_KEY, "198.51.100.4")),
    ]
    assert resolver.resolve("ipv4:127.0.0.1:1", signed) == address("198.51.100.4")
    forged = [
        (CLIENT_ADDRESS_KEY, "198.51.100.4"),
        (EDGE_SIGNATURE_KEY, sign_client_address(bytes(32), "198.51.100.4")),
    ]
    assert resolver.resolve("ipv4:127.0.0.1:1", forged) == address("127.0.0.1")


def test_resolver_rejects_repeated_edge_metadata():
    resolver = ClientAddressResolver((), EDGE_KEY)
    metadata = [
        (CLIENT_ADDRESS_KEY, "198.51.100.4"),
        (CLIENT_ADDRESS_KEY, "198.51.100.5"),
        (EDGE_SIGNATURE_KEY, sign_client_address(EDGE_KEY, "198.51.100.4")),
    ]
    assert resolver.resolve("ipv4:127.0.0.1:1", metadata) == address("127.0.0.1")


def test_resolver_joins_forwarded_for_values():
    resolver = ClientAddressResolver(parse_networks(["127.0.0.1"]))
    metadata = [
        ("x-forwarded-for", "198.51.100.1"),
        ("x-forwarded-for", "198.51.100.2, 127.0.0.1"),
    ]
    assert resolver.resolve("ipv4:127.0.0.1:1", metadata) == address("198.51.100.2")


def test_ipv6_addresses_share_a_64_bucket():
    first = bucket_address(address("2001:db8:1:2::1"))
    second = bucket_address(address("2001:db8:1:2:ffff::9"))
    other = bucket_address(address("2001:db8:1:3::1"))
    assert first == second == "2001:db8:1:2::/64"
    assert other != first
    assert bucket_address(address("192.0.2.1")) == "192.0.2.1"


def test_principal_keys_do_not_collide():
    first = Principal("c", "", 1, "a:b", "s")
    second = Principal("b:c", "", 1, "a", "s")
    assert principal_key(first) != principal_key(second)


# Which buckets a call is charged to ------------------------------------------


def test_whitelisted_address_has_no_bucket():
    buckets, _clock = make_buckets()
    limiter = RequestLimiter(buckets, whitelist=parse_networks(["192.0.2.0/24"]))
    principal = Principal("u1", "", 1, "default", "s")
    assert limiter.keys_for(address("192.0.2.9"), None) == []
    assert limiter.keys_for(address("192.0.2.9"), principal) == [
        principal_key(principal)
    ]
    assert limiter.keys_for(address("192.0.3.9"), principal) == [
        address_key(address("192.0.3.9")),
        principal_key(principal),
    ]


# Logging of limited keys -----------------------------------------------------


def test_limit_log_once_per_key_per_interval(caplog):
    buckets, clock = make_buckets(rpm=60, burst=1)
    log = LimitLog(interval=60.0, clock=clock)
    decision = buckets.decide(["k"])
    decision = buckets.decide(["k"])
    with caplog.at_level(logging.INFO, logger="ris_server.request_limits"):
        for _ in range(50):
            log.rejected("addr:192.0.2.1", "/m", decision)
        clock.now += 61.0
        log.rejected("addr:192.0.2.1", "/m", decision)
    lines = [r for r in caplog.records if "rate limit reached" in r.getMessage()]
    assert len(lines) == 2


def test_limit_log_bounded_under_key_flood(caplog):
    clock = FakeClock()
    buckets, _ = make_buckets()
    log = LimitLog(interval=60.0, max_lines=5, max_keys=10, clock=clock)
    buckets.decide(["k"] * 4)
    decision = buckets.decide(["k"])
    with caplog.at_level(logging.INFO, logger="ris_server.request_limits"):
        for index in range(1000):
            log.rejected(f"addr:10.0.{index // 250}.{index % 250}", "/m", decision)
        clock.now += 60.0
        log.rejected("addr:192.0.2.1", "/m", decision)
    lines = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(lines) == 6
    assert "995 other limited keys not logged" in lines[-1]
    assert len(log._logged) <= 10


# Configuration ---------------------------------------------------------------


def load_rate_limiting(**settings):
    overrides = {("security", "rate_limiting", k): v for k, v in settings.items()}
    return load_config(env={}, overrides=overrides).security.rate_limiting


def test_config_accepts_ipv4_and_ipv6_networks():
    settings = load_rate_limiting(
        ip_whitelist=["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"],
        trusted_proxies=["10.0.0.0/8", "::1"],
    )
    assert settings.ip_whitelist == ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"]
    assert settings.trusted_proxies == ["10.0.0.0/8", "::1"]


@pytest.mark.parametrize(
    ("key", "entries", "message"),
    [
        ("trusted_proxies", ["10.0.0.0/8", "10.0.0.300"], "trusted_proxies.1"),
        ("trusted_proxies", ["proxy.example"], "'proxy.example' is not an IP"),
        ("ip_whitelist", ["10.0.0.1/8"], "write '10.0.0.0/8'"),
        ("ip_whitelist", ["2001:db8::/129"], "ip_whitelist.0"),
        ("ip_whitelist", [""], "ip_whitelist.0"),
    ],
)
def test_config_rejects_bad_network(key, entries, message):
    with pytest.raises(ConfigError) as info:
        load_rate_limiting(**{key: entries})
    text = str(info.value)
    assert f"security.rate_limiting.{key}" in text
    assert message in text


@pytest.mark.parametrize("prefix", ["", "has space", "x" * 201])
def test_config_rejects_bad_key_prefix(prefix):
    with pytest.raises(ConfigError, match="security.rate_limiting.redis_key_prefix"):
        load_rate_limiting(redis_key_prefix=prefix)


def test_parse_network_message_names_entry():
    with pytest.raises(ValueError, match="'10.0.0.300' is not an IP address"):
        parse_network("10.0.0.300")
