"""One module per mail service: read its configuration through HostFiles and say what each port serves."""
