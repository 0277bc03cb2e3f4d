"""One host's audit and the domains' DNS endpoints: the stage `fix` and `verify` build on."""
