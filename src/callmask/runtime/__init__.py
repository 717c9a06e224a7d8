"""Background workers of a serving process: webhook delivery, the sweeper and the purge."""
