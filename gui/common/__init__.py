"""What both tabs use: the app's theme, images, background jobs, dialogs (the engine job adapter is engine.qt)."""
