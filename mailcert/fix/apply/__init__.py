"""Apply a plan on its hosts: lock, switch on the host (detached worker), re-check, keep or restore."""
