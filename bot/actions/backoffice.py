"""The back-office client the actions share (one pooled HTTP session): backoffice/channels/client.py, which the
WeChat bridge uses too. This module keeps the names the actions import."""
from __future__ import annotations

from backoffice.channels.client import BackofficeClient, BackofficeUnavailable, service_token

__all__ = ["BackofficeClient", "BackofficeUnavailable", "client", "service_token"]

client = BackofficeClient()
