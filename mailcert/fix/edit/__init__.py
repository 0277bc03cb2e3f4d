"""Pure editors of configuration text: one setting changed where the parser found it, everything else kept."""
