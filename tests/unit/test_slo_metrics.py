"""The metrics the SLO rules added: commit-to-ack freshness, and the certificate's expiry."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry

from tests.support.certs import CertificateAuthority
from usersuite.platform.grpc.tls_metrics import register_certificate_metrics
from usersuite.platform.relay.metrics import RelayMetrics
from usersuite.platform.service.outbox import OutboxRow

FRESHNESS = "usersuite_outbox_commit_to_ack_seconds"
EXPIRY = "usersuite_tls_certificate_expiry_timestamp_seconds"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def row(seq: int, waited: float) -> OutboxRow:
    return OutboxRow(
        seq=seq, event_id=f"e{seq}", event_type="user.v1.UserCreated", aggregate_name="users/1",
        aggregate_version=seq, payload=b"", trace_context={}, principal="",
        occurred_time=NOW - timedelta(seconds=waited), attempts=0,
    )  # fmt: skip


def test_acknowledged_rows_observe_their_wait_since_commit() -> None:
    registry = CollectorRegistry()
    metrics = RelayMetrics(registry)
    metrics.acknowledged([row(1, 0.2), row(2, 7.0), row(3, 60.0)], acked=[1, 2], now=NOW)

    assert registry.get_sample_value(f"{FRESHNESS}_count") == 2  # row 3 was not acknowledged
    assert registry.get_sample_value(f"{FRESHNESS}_bucket", {"le": "5.0"}) == 1
    assert registry.get_sample_value(f"{FRESHNESS}_sum") == 7.2


def test_certificate_expiry_is_read_from_the_file(tmp_path: Path) -> None:
    cert_file, _ = CertificateAuthority().issue_server().write(tmp_path, "server")
    registry = CollectorRegistry()
    register_certificate_metrics(registry, cert_file)

    leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert registry.get_sample_value(EXPIRY) == leaf.not_valid_after_utc.timestamp()
    cert_file.write_bytes(b"")  # between rotations: no reading rather than a wrong one
    assert registry.get_sample_value(EXPIRY) is None


def test_no_certificate_no_metric() -> None:
    registry = CollectorRegistry()
    register_certificate_metrics(registry, None)
    assert registry.get_sample_value(EXPIRY) is None
