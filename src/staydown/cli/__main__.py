"""``python -m staydown.cli``: the same as the ``staydown`` command."""

from staydown.cli.main import main

main()
