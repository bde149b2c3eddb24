"""The web console on the private listener (`/console/`): sign-in with a read or admin key into a
signed session cookie (session.py), the routes (routes.py), the pages' HTML (pages.py), and one ES
module and a stylesheet (static/) that fill the pages from the read API."""
