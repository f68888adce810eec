"""The brokerage systems the assistant talks to, one package per bounded context (see README "Layout")."""
