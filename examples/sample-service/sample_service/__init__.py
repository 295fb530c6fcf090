"""sample-service: a tiny OpenStack-style service."""
