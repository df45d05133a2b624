"""Row schemas and pool readers."""
