"""Parse hub addresses from the command line and from the hub's client config."""

from urllib.parse import urlsplit

_DEFAULT_HTTPS_PORT = 443


def _validate_port(text: str, value: str) -> int:
    if not text.isdigit():
        raise ValueError(
            f"invalid port in {value!r}: expected a number from 1 to 65535"
        )
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"invalid port in {value!r}: expected 1 to 65535")
    return port


def parse_host_port(value: str) -> str:
    """Validate a "HOST:PORT" address and return it as a gRPC target.

    An IPv6 host must be in brackets ("[::1]:7443"). Raises ValueError naming the
    value when the host or port is missing or invalid.
    """
    text = value.strip()
    host, separator, port_text = text.rpartition(":")
    if not separator or not host:
        raise ValueError(f"invalid address {value!r}: expected HOST:PORT")
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise ValueError(f"invalid address {value!r}: unclosed IPv6 bracket")
    elif ":" in host:
        raise ValueError(f"invalid address {value!r}: put an IPv6 host in brackets")
    if any(character.isspace() or character in "/@?#" for character in host):
        raise ValueError(f"invalid host in {value!r}")
    port = _validate_port(port_text, value)
    return f"{host}:{port}"


def endpoint_from_server_host(server_host: str) -> str:
    """Convert ``ClientConfig.server_host`` ("https://HOST:PORT") to "HOST:PORT".

    The port defaults to 443. Raises ValueError for an empty value, a scheme other
    than https, or a URL with user info, a path, a query or a fragment.
    """
    if not server_host:
        raise ValueError("server_host is empty")
    parts = urlsplit(server_host.strip())
    if parts.scheme != "https":
        raise ValueError(
            f"invalid server_host {server_host!r}: expected https://HOST:PORT"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(
            f"invalid server_host {server_host!r}: expected https://HOST:PORT"
        )
    if parts.path not in ("", "/"):
        raise ValueError(f"invalid server_host {server_host!r}: unexpected path")
    if not parts.hostname:
        raise ValueError(f"invalid server_host {server_host!r}: missing host")

    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"invalid port in server_host {server_host!r}") from error
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port or _DEFAULT_HTTPS_PORT}"
