"""The networks: generators and discriminators, and how to rebuild a generator from its spec."""
