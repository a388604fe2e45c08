"""Running as a service: systemd readiness and watchdog, signals, the state directory, the status socket, and
where the server's Reboot and Factory Reset land."""
