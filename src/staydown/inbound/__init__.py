"""Notices that arrive by e-mail: received over SMTP/LMTP, a pipe or IMAP, stored raw before they are
acknowledged, and read into notices by the same intake as the API."""
