"""The judge applied to a user's own data: the `flexjudge judge` command and the `Judge` API (docs/judge.md)."""
