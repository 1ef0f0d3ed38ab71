"""The license wire format, trust bundle and offline verifier (no server, no database)."""
