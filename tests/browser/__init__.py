"""Browser tests (pytest marker ``browser``): JupyterLab and the book in headless Chromium."""
