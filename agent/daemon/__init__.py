"""Running as a service: systemd readiness and watchdog, signals, the state directory."""
