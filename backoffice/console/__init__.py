"""The staff console under /console: human handoff, application review and video witness in a browser
(views.py, witness.py; the app registers them with their `setup`)."""
