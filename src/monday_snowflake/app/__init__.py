"""The monday app: OAuth install, lifecycle events, uninstall, automation actions and triggers."""
