"""The registry in PostgreSQL: a shared control plane for several servers (docs/registry.md)."""
