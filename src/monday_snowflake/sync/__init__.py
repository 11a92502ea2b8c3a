"""The sync flows: board replication now; incremental, real-time and reverse later."""
