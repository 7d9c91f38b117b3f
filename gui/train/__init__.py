"""The Train tab: the settings form, the run list, live curves and sample previews."""
