"""The shared kernel: configuration, errors, typed events and their wire payloads, bounded queues and
the in-process live bus. Every other package may import it. May import nothing else from `edge`."""
