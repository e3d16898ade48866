"""The server-rendered HTML pages: the public booking page and the account pages."""
