"""Due process: counter-notices and restoration, complaints, notifier misuse, statements of reasons."""
