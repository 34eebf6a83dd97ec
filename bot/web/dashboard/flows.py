"""Flows: the YAML conversations, whether they pass the check, a diagram, and a tester.

The tester runs the real engine (``bot.flows.engine``) in memory: nothing is
stored and nothing is sent, so every role may use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from bot.db import utcnow
from bot.flows import engine
from bot.flows.check import check_flows
from bot.flows.loader import read_flows, successors
from bot.flows.model import FlowSet
from bot.flows.problems import Problem
from bot.flows.turn import ContactView
from bot.i18n import LANGUAGES
from bot.web.dashboard.diagram import layout
from bot.web.dashboard.language import _

bp = Blueprint("flows", __name__, url_prefix="/flows")

MAX_TRANSCRIPT = 60  # lines kept in the tester


def flows_dir() -> Path:
    """FLOWS_DIR, else the shipped flows/ folder (see bot.config.flows_dir)."""
    return Path(current_app.config["FLOWS_DIR"])


def variables() -> Mapping[str, str]:
    """The {placeholders}' values the running conversations use (org_name, event_…)."""
    return current_app.extensions["puente.flows"].variables


def disabled() -> Mapping[str, tuple[str, ...]]:
    """Flows disabled at start-up -> the settings they need that are not configured."""
    return current_app.extensions["puente.flows"].disabled


def _checked() -> tuple[FlowSet, list[Problem]]:
    """The flows as they are on disk now, and every problem the checker finds."""
    flowset, _ = read_flows(flows_dir())
    return flowset, check_flows(flows_dir(), variables=variables())


def _problems_of(problems: list[Problem], file: str) -> list[Problem]:
    return [p for p in problems if Path(p.file).name == Path(file).name]


@bp.get("/")
def index() -> str:
    """Every flow with its keywords and its check status."""
    flowset, problems = _checked()
    rows = []
    for flow in sorted(flowset, key=lambda f: f.id):
        found = _problems_of(problems, flow.file)
        rows.append(
            {
                "flow": flow,
                "errors": sum(p.severity == "error" for p in found),
                "warnings": sum(p.severity == "warning" for p in found),
                "disabled": disabled().get(flow.id, ()),
            }
        )
    known = {Path(f.file).name for f in flowset}
    broken = [p for p in problems if Path(p.file).name not in known]
    return render_template("dashboard/flows/index.html", rows=rows, broken=broken)


@bp.route("/<flow_id>", methods=["GET", "POST"])
def detail(flow_id: str) -> str:
    """One flow: problems, diagram, and the tester (POST = one message to it)."""
    flowset, problems = _checked()
    flow = flowset.get(flow_id) or abort(404)
    found = _problems_of(problems, flow.file)
    has_errors = any(p.severity == "error" for p in found)
    worst = {p.step_id: p.severity for p in found if p.step_id and p.severity == "warning"}
    worst |= {p.step_id: p.severity for p in found if p.step_id and p.severity == "error"}
    diagram = layout(flow, successors, worst)
    trying = request.method == "POST" and not has_errors  # a broken flow does not run
    tester = _tester(flowset, flow_id) if trying else _fresh_tester()
    return render_template(
        "dashboard/flows/detail.html",
        flow=flow,
        problems=found,
        diagram=diagram,
        tester=tester,
        tester_languages=LANGUAGES,
        has_errors=has_errors,
        disabled=disabled().get(flow.id, ()),
    )


def _fresh_tester() -> dict[str, Any]:
    return {"language": "es", "channel": "sms", "state": "", "transcript": []}


def _tester(flowset: FlowSet, flow_id: str) -> dict[str, Any]:
    """Run one turn of the tester: start the flow, or answer it."""
    form = request.form
    language = form.get("language") if form.get("language") in LANGUAGES else "es"
    channel = "whatsapp" if form.get("channel") == "whatsapp" else "sms"
    if form.get("action") == "reset":
        return {**_fresh_tester(), "language": language, "channel": channel}
    transcript = _load(form.get("transcript"), [])[-MAX_TRANSCRIPT:]
    state = _load(form.get("state"), {})
    fields = state.get("fields", {})
    contact = ContactView(language=language, channel=channel, fields=fields)
    now = utcnow()
    session = engine.FlowState.from_dict(state["session"]) if state.get("session") else None
    text = form.get("text", "").strip()[:500]
    if form.get("action") == "start" or (session is None and not text):
        result = engine.start(flowset, flow_id, contact, now, variables())
    else:
        transcript.append({"who": "them", "text": text})
        result = engine.handle(flowset, session, contact, text, now, variables())
    transcript += [
        {"who": "bot", "text": o.text, "buttons": list(o.buttons)} for o in result.outputs
    ]
    transcript += [{"who": "note", "text": _describe(e)} for e in result.effects]
    for effect in result.effects:
        if isinstance(effect, engine.SetField):
            fields = {**fields, effect.name: effect.value}
    return {
        "language": language,
        "channel": channel,
        "transcript": transcript,
        "state": json.dumps(
            {"session": result.session.to_dict() if result.session else None, "fields": fields}
        ),
        "ended": result.session is None,
    }


def _load(raw: str | None, default: Any) -> Any:
    try:
        return json.loads(raw) if raw else default
    except ValueError:
        return default


def _describe(effect: Any) -> str:
    """An effect as the tester shows it: what would change for a real contact."""
    if isinstance(effect, engine.SetField):
        return _("Saves {name}: {value}", name=effect.name, value=effect.value)
    if isinstance(effect, engine.AddTag):
        return _("Adds the tag {tag}", tag=effect.tag)
    if isinstance(effect, engine.RemoveTag):
        return _("Removes the tag {tag}", tag=effect.tag)
    if isinstance(effect, engine.SetLanguage):
        return _("Switches the language to {lang}", lang=effect.lang)
    if isinstance(effect, engine.OptIn):
        return _("Records the opt-in")
    if isinstance(effect, engine.RecordReport):
        return _("Files a report for organizers")
    if isinstance(effect, engine.FlowEnded):
        return _("The flow ends ({reason})", reason=effect.reason)
    return type(effect).__name__
