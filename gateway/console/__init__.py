"""The console: pharmacists, clinic staff and inspectors work in the browser (README "Console").

Server-rendered pages in Vietnamese (Flask + Jinja2, no script, every asset served by the
gateway), for people signed in as users of a party (:mod:`gateway.auth.users`). The pages call
the services the API uses and record the same audit events, with the person named.
"""
