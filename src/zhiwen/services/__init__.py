"""Use cases. Services talk to ports only: no SQL, no HTTP, no concrete backends."""
