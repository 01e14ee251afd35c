"""The embedded mode: every evaluation mode over one in-memory stream, in one process."""
