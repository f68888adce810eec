"""The staff console under /console: human handoff and application review in a browser."""


def setup(app) -> None:
    # Imported here so backoffice.models can import the staff table without pulling in the web layer.
    from backoffice.console.views import setup as _setup
    from backoffice.console.witness import setup as _setup_witness

    _setup(app)
    _setup_witness(app)  # video witness pages (视频见证)
