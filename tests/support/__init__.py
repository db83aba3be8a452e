"""What several test modules share that is not a fixture: documents, parties' requests, doubles of
the registry and of pharmacies' webhooks, strategies, small assertions. Test modules import from
here (and take fixtures from the conftest.py files), never from each other."""
