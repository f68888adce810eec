"""The one error the analytics services raise for a bad request: its HTTP status (400 unless said) and a message
staff can read. Each service names its own subclass (funnels, NLU inbox, conversation review)."""
from __future__ import annotations


class AnalyticsError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
