"""One-time codes: login and business confirmation codes, the SMS texts and gateways."""
