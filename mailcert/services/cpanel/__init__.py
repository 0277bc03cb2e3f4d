"""cPanel: service certificates, Domain TLS and sni.conf, through cPanel's own files."""
