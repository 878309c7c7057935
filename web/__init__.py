"""The web application's parts; app.py's create_app() puts them together."""
