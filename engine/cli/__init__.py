"""`python -m engine ...`: the headless command line, one module per sub-command."""
