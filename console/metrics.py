"""Prometheus metrics, one registry per app (no module-level collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "lines_inbound_messages_total",
            "Inbound messages stored",
            ["channel", "result"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "lines_outbound_deliveries_total",
            "Outbound delivery attempts",
            ["channel", "result"],
            registry=self.registry,
        )
        self.http_requests = Histogram(
            "lines_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.operator_sockets = Gauge(
            "lines_operator_sockets", "Open operator WebSocket connections", registry=self.registry
        )
        self.webchat_sockets = Gauge(
            "lines_webchat_sockets", "Open web-chat visitor connections", registry=self.registry
        )
        self.login_failures = Counter(
            "lines_login_failures_total", "Failed or throttled logins", ["reason"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
