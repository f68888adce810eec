"""Jobs over every table: the retention purge and data key rotation."""
