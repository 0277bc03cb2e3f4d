"""certbot: renewal configurations, hooks and schedules."""
