"""foobar: the sample guestbook shipped with foobar.webstack's python_app role."""

__version__ = "1.0.0"
