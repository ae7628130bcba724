"""Static web pages: the chat page."""
