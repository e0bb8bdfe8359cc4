"""The agent-facing HTTP API (docs/CONTRACTS.md): enrol, rotate, batches, heartbeat."""
