"""The product catalogue, events and recommenders with their releases."""
