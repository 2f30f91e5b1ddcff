"""The serving certificate's expiry (usersuite_tls_certificate_expiry_timestamp_seconds), read
from the certificate file at scrape time, so a rotated file shows at once."""

from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric


class CertificateExpiryCollector:
    def __init__(self, cert_file: Path) -> None:
        self._cert_file = cert_file

    def collect(self) -> Iterator[Metric]:
        try:
            leaf = x509.load_pem_x509_certificates(self._cert_file.read_bytes())[0]
        except (OSError, ValueError, IndexError):
            # Unreadable between rotations: no reading beats a wrong one; the server's own
            # reload reports the file.
            return
        yield GaugeMetricFamily(
            "usersuite_tls_certificate_expiry_timestamp_seconds",
            "When the serving certificate (the chain's first) expires, in Unix seconds",
            value=leaf.not_valid_after_utc.timestamp(),
        )


def register_certificate_metrics(registry: CollectorRegistry, cert_file: Path | None) -> None:
    if cert_file is not None:
        registry.register(CertificateExpiryCollector(cert_file))
