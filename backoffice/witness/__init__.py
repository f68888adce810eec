"""Video witness (视频见证): sessions, verdicts, recordings and WebRTC signalling."""
