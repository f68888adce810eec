"""What every context shares: settings, database, clock, crypto, KV store, audit log, signed links, addresses."""
