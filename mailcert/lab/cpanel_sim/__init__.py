"""A SIMULATOR of the parts of cPanel & WHM that manage mail TLS, for the lab's `cpanel` host kind.

cPanel cannot be installed here. This SIMULATOR implements, to cPanel's published behaviour (WHM API 1
docs, ../shared/reference/mail-tls-config.md §3.4 and §4), only what mailcert touches:

* `whmapi1` (mailcert.lab.cpanel_sim.whmapi1): fetch_service_ssl_components,
  install_service_ssl_certificate, rebuild_mail_sni_config, mail_sni_status,
  start_autossl_check_for_one_user; any other function fails as the real API does;
* `uapi` (mailcert.lab.cpanel_sim.uapi): SSL::mail_sni_status and SSL::rebuild_mail_sni_config;
* `/scripts/restartsrv_exim` and `/scripts/restartsrv_dovecot` (mailcert.lab.cpanel_sim.restartsrv);
* the files cPanel writes (mailcert.lab.cpanel_sim.store): /var/cpanel/ssl/{exim,dovecot}/my*,
  /var/cpanel/ssl/domain_tls/<name>/{combined,certificates}, /etc/dovecot/sni.conf.

The daemons it configures and restarts are the real Exim and the real Dovecot.
"""
