"""The networks: generators (networks.py) and discriminators (discriminators.py), and how to rebuild a generator from its spec."""
