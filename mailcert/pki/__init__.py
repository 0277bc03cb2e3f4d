"""Certificate knowledge without I/O: names, chains, trust anchors."""
