"""Pure rules of masking: no sockets, no SQL, no clock reads, no environment."""
