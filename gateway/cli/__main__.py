"""``python -m gateway.cli``: how ``erx-gateway run`` starts its forwarder."""

from gateway.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
