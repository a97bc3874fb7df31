"""Messaging has no user-editable form: the unsubscribe page posts one button (or the RFC 8058
one-click body), read directly by the view."""
