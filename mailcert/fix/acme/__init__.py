"""Certificates through ACME: certbot on the mail host, or centrally on the control machine."""
