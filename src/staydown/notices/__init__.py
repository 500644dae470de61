"""Infringement notices: intake, legal elements, URL resolution and the item workflow."""
