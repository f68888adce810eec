"""Customer media: the encrypted store, metadata stripping, uploads and signed links."""
