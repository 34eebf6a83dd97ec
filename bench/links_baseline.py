"""The baseline of bench/links.py: a bare Flask app that answers GET /l/<code> with a 302.

    gunicorn --pythonpath bench links_baseline:app

No Puente code, no database: the ceiling a redirect endpoint can reach under the
same gunicorn settings (the Procfile's).
"""

from __future__ import annotations

from flask import Flask, redirect

app = Flask(__name__)
TARGET = "https://coalicion.example.org/marcha?utm_source=sms"


@app.get("/l/<code>")
def follow(code: str):  # type: ignore[no-untyped-def]
    return redirect(TARGET, 302)
