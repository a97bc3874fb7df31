"""Date and time formats where Django's own do not suit the app (``FORMAT_MODULE_PATH``)."""
