"""Analytics: the conversation event log (events.py, written by Rasa's event broker connectors/event_log.py),
the business funnels computed from it and the applications (funnels.py), and the routes (routes.py)."""
