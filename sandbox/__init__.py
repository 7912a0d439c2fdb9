"""Local stand-ins for outside systems, for tests and the sandbox (never used in production)."""
