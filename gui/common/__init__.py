"""What both tabs use: the app's theme, images, background jobs, the engine job adapter, dialogs."""
