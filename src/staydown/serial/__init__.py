"""What the provider knows about a customer (the dossier), the serial-infringer review, and the
links that keep a terminated customer from signing up again."""
