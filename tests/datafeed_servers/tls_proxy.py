"""A loopback HTTPS-intercepting proxy: answers requests for chosen hosts itself, refuses everything else.

Some vendor libraries (AKShare) build their URLs from string literals inside each function,
so there is no base URL to point at a local server. What they do honour is the standard
proxy environment of ``requests``: ``HTTPS_PROXY``/``HTTP_PROXY`` and ``REQUESTS_CA_BUNDLE``.
This proxy, on 127.0.0.1, accepts ``CONNECT host:443`` for the hosts it serves, terminates TLS
with a certificate for that host signed by a throwaway CA made at start (its PEM is
``ca_file``), and hands each request inside the tunnel to ``answer(host, path_and_query)``.
Nothing is ever forwarded: any other host gets 403, so no test can reach the network.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Answer = tuple[int, str, bytes]          # status, content type, body


def _certificates(hosts: tuple[str, ...], folder: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local test CA (loopback only)")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(host) for host in hosts] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, cert_file, key_file


class InterceptingProxy:
    def __init__(self, hosts: tuple[str, ...], answer: Callable[[str, str], Answer], port: int = 0) -> None:
        self.hosts = hosts
        self.answer = answer
        self._folder = tempfile.TemporaryDirectory(prefix="tls-proxy-")
        self.ca_file, cert_file, key_file = _certificates(hosts, Path(self._folder.name))
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert_file, key_file)
        self.refused: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def environment(self) -> dict[str, str]:
        """What a client process needs to go through this proxy (and nowhere else)."""
        return {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url, "https_proxy": self.url, "http_proxy": self.url,
                "NO_PROXY": "", "no_proxy": "", "REQUESTS_CA_BUNDLE": str(self.ca_file),
                "CURL_CA_BUNDLE": str(self.ca_file)}

    def start(self) -> "InterceptingProxy":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="tls-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._folder.cleanup()

    def __enter__(self) -> "InterceptingProxy":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _handler(self):
        proxy = self

        class Inner(BaseHTTPRequestHandler):
            """The requests inside a TLS tunnel to one host."""

            protocol_version = "HTTP/1.1"
            tunnel_host = ""

            def do_GET(self) -> None:  # noqa: N802
                status, content_type, body = proxy.answer(self.tunnel_host, self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        class Outer(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_CONNECT(self) -> None:  # noqa: N802
                host = self.path.rsplit(":", 1)[0]
                if host not in proxy.hosts:
                    proxy.refused.append(host)
                    self.send_error(403, "this test proxy serves only its own hosts")
                    self.close_connection = True
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                try:
                    tunnel = proxy._tls.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    self.close_connection = True
                    return
                handler = type("Tunnel", (Inner,), {"tunnel_host": host})
                try:
                    handler(tunnel, self.client_address, self.server)
                except (ssl.SSLError, OSError):
                    pass
                self.close_connection = True

            def do_GET(self) -> None:  # noqa: N802  (plain http through the proxy: absolute URL)
                from urllib.parse import urlsplit

                parts = urlsplit(self.path)
                if parts.hostname not in proxy.hosts:
                    proxy.refused.append(str(parts.hostname))
                    self.send_error(403, "this test proxy serves only its own hosts")
                    return
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                status, content_type, body = proxy.answer(parts.hostname, path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Outer
