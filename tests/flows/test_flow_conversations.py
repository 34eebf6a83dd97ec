"""The shipped conversations, as a contact lives them: they text, the bot answers.

Each case is a table of (they text, texts the bot's replies contain) played through
the real flows in ``flows/`` and the real catalogs in ``messages/``, in Spanish and
English, by SMS and WhatsApp, followed by the effects the integrator must apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.flows.engine import (
    AddTag,
    ContactView,
    FlowEnded,
    OptIn,
    RecordReport,
    RecordRsvp,
    SetField,
    SetLanguage,
    expire,
    handle,
    start,
)
from bot.flows.loader import load_flows
from tests.flows.integrator import apply
from tests.paths import FLOWS

NOW = datetime(2026, 5, 13, 18, 0, tzinfo=UTC)
VARIABLES = {
    "org_name": "Puente",
    "legal_help": "LEGAL-HELP-CONTACT",
}
# What the integrator gives the RSVP flow when an event's keyword starts it
# (bot.broadcasts.events.flow_answers): the event, from the database.
SUMMIT_EVENT = {
    "event": 7,
    "event_name_es": "Cumbre por la Paz",
    "event_name_en": "Summit for Peace",
    "event_place_es": "Ciudad Juárez",
    "event_place_en": "Ciudad Juárez",
    "event_date_en": "Saturday, June 6, 10:00 AM",
    "event_date_es": "sábado 6 de junio, 10:00 a.m.",
    "event_keyword_es": "CUMBRE",
    "event_keyword_en": "SUMMIT",
}


@pytest.fixture(scope="module")
def flows():
    return load_flows(FLOWS)


@dataclass
class Conversation:
    """A contact, what they text, what the bot says, and the effects at the end."""

    name: str
    contact: ContactView
    table: list[tuple[str, list[str]]]
    effects: list[object]
    buttons: dict[int, tuple[str, ...]] = field(default_factory=dict)  # row -> last buttons
    variables: dict[str, str] = field(default_factory=lambda: dict(VARIABLES))
    # The flow the first text starts with these answers, as the integrator does for an
    # event's keyword (None: the first text goes through the engine like any other).
    starts: tuple[str, dict[str, object]] | None = None

    def __str__(self) -> str:
        return self.name


def play(flows, conversation: Conversation):
    """Run the table; every row must be handled and its replies must contain the texts."""
    view, session, effects, now = conversation.contact, None, [], NOW
    for row, (text, expected) in enumerate(conversation.table):
        if row == 0 and conversation.starts is not None:
            flow_id, answers = conversation.starts
            result = start(flows, flow_id, view, now, conversation.variables, answers=answers)
        else:
            result = handle(flows, session, view, text, now, conversation.variables)
        assert result.handled, f"{text!r} was not handled"
        replies = "\n".join(o.text for o in result.outputs)
        for piece in expected:
            assert piece in replies, f"after {text!r} expected {piece!r} in:\n{replies}"
        if row in conversation.buttons:
            assert result.outputs[-1].buttons == conversation.buttons[row]
        elif view.channel == "sms":
            assert all(o.buttons == () for o in result.outputs)
        view, session, effects = (
            apply(view, result.effects),
            result.session,
            effects + result.effects,
        )
        now += timedelta(minutes=2)
    return session, effects, view


ES_SMS_MX = ContactView(language="es", channel="sms", country="MX")
EN_WA = ContactView(language="en", channel="whatsapp", country="US")
EN_SMS = ContactView(language="en", channel="sms", country="US")
ES_WA = ContactView(language="es", channel="whatsapp", country="US")

JOIN = [
    Conversation(
        "join in Spanish by SMS from Mexico",
        ES_SMS_MX,
        [
            (
                "Únete",
                [
                    "Puente: Te inscribiste para recibir noticias",  # names the program
                    "La frecuencia de mensajes varía.",  # how often
                    "Pueden aplicar tarifas de mensajes y datos.",  # Msg & data rates
                    "Responde AYUDA para ayuda o BAJA para cancelar.",  # HELP and STOP
                    "¿Cómo te llamas?",
                ],
            ),
            ("María", ["¿Cuál es tu código postal"]),
            ("06700", ["¿Qué causas te importan más?", "1. Derechos humanos", "5. Justicia"]),
            ("1 y 3", ["¡Gracias! Puente te enviará noticias", "BAJA"]),
        ],
        [
            OptIn("join"),
            SetField("name", "María"),
            SetField("zip", "06700"),
            SetField("state", "MX-CMX"),
            SetField("country", "MX"),
            AddTag("human_rights"),
            AddTag("right_to_stay_home"),
            FlowEnded("join", "completed"),
        ],
    ),
    Conversation(
        "join in English on WhatsApp, skipping the name",
        EN_WA,
        [
            (
                "JOIN",
                [
                    "Puente: You're signed up for news and action alerts.",
                    "Msg frequency varies.",
                    "Msg & data rates may apply.",
                    "Reply HELP for help, STOP to cancel.",
                    "What's your first name?",
                ],
            ),
            ("skip", ["What's your ZIP code"]),
            ("my zip is 78701", ["Which causes matter most to you?", "2. Stop gun trafficking"]),
            ("climate and guns", ["Thank you! Puente will send you news", "STOP"]),
        ],
        [
            OptIn("join"),
            SetField("zip", "78701"),
            SetField("state", "US-TX"),
            SetField("country", "US"),
            AddTag("climate_justice"),
            AddTag("gun_trafficking"),
            FlowEnded("join", "completed"),
        ],
    ),
    Conversation(
        "join again with a known name, a wrong code, then skip; all causes",
        replace(ES_SMS_MX, fields={"name": "Ana"}),
        [
            ("PAZ", ["Te inscribiste", "¡Hola de nuevo, Ana!", "código postal"]),
            ("no me acuerdo", ["Por favor envía un código postal de 5 dígitos"]),
            ("saltar", ["¿Qué causas"]),
            ("TODAS", ["¡Gracias!"]),
        ],
        [
            OptIn("join"),
            AddTag("human_rights"),
            AddTag("gun_trafficking"),
            AddTag("right_to_stay_home"),
            AddTag("demilitarization"),
            AddTag("climate_justice"),
            FlowEnded("join", "completed"),
        ],
    ),
]

KNOW_YOUR_RIGHTS = [
    Conversation(
        "know your rights in Spanish on WhatsApp",
        ES_WA,
        [
            (
                "derechos",
                [
                    "*Conoce tus derechos*, de Puente.",
                    "Es información general, no asesoría legal",
                    "Para ayuda legal: LEGAL-HELP-CONTACT",
                    "Elige un tema y responde con su número:",
                    "1. Agentes de inmigración en tu puerta",
                    "8. Derechos de migrantes en México",
                    "9. Listo",
                ],
            ),
            (
                "1",
                [
                    "*Agentes de inmigración en tu puerta*",
                    "orden firmada por un juez",
                    "No mientas ni muestres papeles falsos.",
                    "Elige otro tema (1-8)",
                ],
            ),
            ("guardar silencio", ["*Tu derecho a guardar silencio*", "con o sin papeles"]),
            ("Menú", ["Elige un tema y responde con su número:"]),
            ("8", ["COMAR", "El trámite es gratuito."]),
            ("firmar", ["*No firmes sin un abogado*", "Ayuda legal: LEGAL-HELP-CONTACT"]),
            ("Listo", ["Que estés bien.", "Escribe DERECHOS", "LEGAL-HELP-CONTACT"]),
        ],
        [FlowEnded("know_your_rights", "completed")],
        buttons={1: ("Menú", "Listo"), 2: ("Menú", "Listo"), 3: (), 5: ("Menú", "Listo")},
    ),
    Conversation(
        "know your rights in English by SMS",
        EN_SMS,
        [
            ("Know your rights", ["*Know your rights*, from Puente.", "not legal advice"]),
            ("2", ["*At work*", "You have the right to remain silent"]),
            ("seven", ["*Family safety plan*", "power of attorney"]),
            ("pizza", ["Please reply with a topic number (1-8), MENU or DONE."]),
            ("6", ["*What to carry with you*", "Never carry false documents."]),
            ("done", ["Stay safe. Text RIGHTS anytime"]),
        ],
        [FlowEnded("know_your_rights", "completed")],
    ),
]

REPORT = [
    Conversation(
        "report in Spanish on WhatsApp",
        ES_WA,
        [
            (
                "DENUNCIA",
                [
                    "Reporta un incidente a Puente.",
                    "Solo te contactamos si nos dices que sí",
                    "sin tu nombre ni tu número",
                    "llama al 911",
                    "¿Quieres reportar de forma anónima?",
                ],
            ),
            ("no", ["¿Alguien está en peligro ahora mismo"]),
            ("no", ["¿Qué pasó? Responde con un número:", "1. Abuso a derechos humanos"]),
            ("redada", ["¿Dónde pasó?"]),
            ("Ciudad Juárez, Chihuahua", ["¿Cuándo pasó?"]),
            ("ayer en la noche", ["Cuéntanos qué pasó"]),
            ("Se llevaron a dos vecinos afuera de la tienda", ["Si tienes fotos, audio o video"]),
            ("NO", ["¿Puede alguien del equipo"]),
            ("no", ["¿Podemos compartir este reporte públicamente"]),
            ("Sí", ["Gracias por tu confianza.", "No te contactaremos sobre este reporte."]),
        ],
        [
            RecordReport(
                "report",
                {
                    "kind": "incident",
                    "answers": {
                        "anonymous": "no",
                        "urgent": "no",
                        "incident_type": "human_rights_abuse",
                        "where": "Ciudad Juárez, Chihuahua",
                        "when": "ayer en la noche",
                        "what": "Se llevaron a dos vecinos afuera de la tienda",
                        "may_contact": "no",
                        "may_share": "yes",
                    },
                    "language": "es",
                    "channel": "whatsapp",
                },
            ),
            FlowEnded("report", "completed"),
        ],
        buttons={0: ("Sí", "No"), 1: ("Sí", "No"), 7: ("Sí", "No"), 8: ("Sí", "No")},
    ),
    Conversation(
        "report in English by SMS, with a re-ask",
        EN_SMS,
        [
            (
                "report",
                [
                    "Report an incident to Puente.",
                    "In an emergency, call 911.",
                    "Do you want to report anonymously?",
                ],
            ),
            ("N", ["Is someone in danger right now"]),
            ("n", ["What happened? Reply with a number:", "1. Human rights abuse"]),
            ("police", ["Where did it happen?"]),
            ("Tucson, AZ", ["When did it happen?"]),
            ("June 5", ["Tell us what happened"]),
            ("They searched our car without asking", ["If you have photos, audio or video"]),
            ("no", ["May an organizer contact you"]),
            ("maybe", ["Please reply Y (yes) or N (no). May we contact you"]),
            ("Y", ["May we share this report publicly"]),
            ("n", ["Your report reached the Puente organizers", "An organizer may contact you"]),
        ],
        [
            RecordReport(
                "report",
                {
                    "kind": "incident",
                    "answers": {
                        "anonymous": "no",
                        "urgent": "no",
                        "incident_type": "human_rights_abuse",
                        "where": "Tucson, AZ",
                        "when": "June 5",
                        "what": "They searched our car without asking",
                        "may_contact": "yes",
                        "may_share": "no",
                    },
                    "language": "en",
                    "channel": "sms",
                },
            ),
            FlowEnded("report", "completed"),
        ],
    ),
    Conversation(
        "report anonymously and urgently in English on WhatsApp, with a pin",
        EN_WA,
        [
            ("REPORT", ["Do you want to report anonymously?"]),
            ("Y", ["Is someone in danger right now"]),
            ("yes", ["on-call organizer", "call 911", "What happened?"]),
            ("armed men", ["Where did it happen?", "share a location pin"]),
            ("geo:32.5312,-117.0421", ["When did it happen?"]),
            ("now", ["Tell us what happened"]),
            ("Two trucks of armed men at the crossing", ["send them now, then reply DONE"]),
            ("[media]", ["Received. Send more, or reply DONE."]),  # a photo, without words
            ("[media]", ["Received. Send more, or reply DONE."]),
            ("DONE", ["May we share this report"]),
            ("Y", ["Your report reached the Puente organizers", "We will not contact you"]),
        ],
        [
            RecordReport(
                "report",
                {
                    "kind": "incident",
                    "answers": {
                        "anonymous": "yes",
                        "urgent": "yes",
                        "incident_type": "weapons_armed_groups",
                        "where": "geo:32.5312,-117.0421",
                        "when": "now",
                        "what": "Two trucks of armed men at the crossing",
                        "may_contact": None,  # never asked: anonymous
                        "may_share": "yes",
                    },
                    "language": "en",
                    "channel": "whatsapp",
                },
            ),
            FlowEnded("report", "completed"),
        ],
        buttons={0: ("Yes", "No"), 1: ("Yes", "No"), 9: ("Yes", "No")},
    ),
]

RSVP_START = ("summit_rsvp", SUMMIT_EVENT)

SUMMIT = [
    Conversation(
        "summit yes in English on WhatsApp",
        EN_WA,
        [
            ("SUMMIT", ["Summit for Peace: Saturday, June 6, 10:00 AM, Ciudad Juárez. Will"]),
            ("Yes, I'll be there", ["How many people are coming with you"]),
            ("2", ["Great, see you there!", "Msg & data rates may apply.", "Text SUMMIT anytime"]),
        ],
        [
            RecordRsvp("summit_rsvp", 7, "yes"),
            OptIn("summit_rsvp"),  # consent comes with their answer, before the guests question
            RecordRsvp("summit_rsvp", 7, "yes", 2),
            FlowEnded("summit_rsvp", "completed"),
        ],
        buttons={0: ("Yes, I'll be there", "No, I can't", "Maybe")},
        starts=RSVP_START,
    ),
    Conversation(
        "summit: changing a yes to maybe in Spanish by SMS",
        ES_SMS_MX,
        [
            ("cumbre", ["Cumbre por la Paz: sábado 6 de junio, 10:00 a.m., Ciudad Juárez."]),
            ("quizás", ["te enviará un recordatorio cuando se acerque la fecha", "Escribe CUMBRE"]),
        ],
        [
            RecordRsvp("summit_rsvp", 7, "maybe"),
            OptIn("summit_rsvp"),
            FlowEnded("summit_rsvp", "completed"),
        ],
        starts=RSVP_START,
    ),
    Conversation(
        "summit no in Spanish on WhatsApp: no reminders, no consent",
        ES_WA,
        [("CUMBRE", ["¿Nos acompañas?"]), ("no puedo", ["Gracias por avisarnos."])],
        [
            RecordRsvp("summit_rsvp", 7, "no"),
            FlowEnded("summit_rsvp", "completed"),
        ],
        buttons={0: ("Sí, ahí estaré", "No puedo", "Tal vez")},
        starts=RSVP_START,
    ),
    Conversation(
        "summit yes alone, and a guest count in words",
        EN_SMS,
        [("SUMMIT", ["Will you come?"]), ("1", ["How many"]), ("just me", ["Great"])],
        [
            RecordRsvp("summit_rsvp", 7, "yes"),
            OptIn("summit_rsvp"),  # consent comes with their answer, before the guests question
            RecordRsvp("summit_rsvp", 7, "yes", 0),
            FlowEnded("summit_rsvp", "completed"),
        ],
        starts=RSVP_START,
    ),
    Conversation(
        "the RSVP flow started without an event records nothing",
        EN_SMS,
        [("RSVP", ["Will you come?"]), ("no", ["Thanks for letting us know."])],
        [FlowEnded("summit_rsvp", "completed")],
    ),
]


@pytest.mark.parametrize("conversation", JOIN + KNOW_YOUR_RIGHTS + REPORT + SUMMIT, ids=str)
def test_conversation(flows, conversation):
    session, effects, _ = play(flows, conversation)
    assert session is None
    assert effects == conversation.effects


def test_know_your_rights_media_only_when_configured(flows):
    variables = {**VARIABLES, "kyr_media_url": "https://example.org/red-card.pdf"}
    start = handle(flows, None, EN_WA, "RIGHTS", NOW, variables)
    assert start.outputs[0].media_url == "https://example.org/red-card.pdf"
    door = handle(flows, start.session, EN_WA, "1", NOW, variables)
    assert door.outputs[0].media_url is None  # kyr_media_door is not configured
    plain = handle(flows, None, EN_WA, "RIGHTS", NOW, VARIABLES)
    assert plain.outputs[0].media_url is None


def test_a_report_never_stores_its_answers_on_the_contact(flows):
    for conversation in REPORT:
        _, effects, view = play(flows, conversation)
        assert not [e for e in effects if isinstance(e, SetField)]
        assert view.fields == conversation.contact.fields


def test_another_flow_keyword_interrupts_join(flows):
    session, _, view = play(flows, replace(JOIN[0], table=JOIN[0].table[:2]))
    assert session.step_id == "ask_zip"
    result = handle(flows, session, view, "DERECHOS", NOW, VARIABLES)
    assert result.effects[0] == FlowEnded("join", "interrupted")
    assert "*Conoce tus derechos*" in result.outputs[0].text
    assert result.session.flow_id == "know_your_rights"


def test_an_unanswered_join_expires_silently(flows):
    session, _, view = play(flows, replace(JOIN[1], table=JOIN[1].table[:1]))
    assert session.expires_at == NOW + timedelta(hours=23)
    result = expire(flows, session, view, session.expires_at, VARIABLES)
    assert result.outputs == [] and result.session is None
    assert result.effects == [FlowEnded("join", "expired")]


@pytest.mark.parametrize(
    ("keyword", "lang", "flow_id"),
    [
        ("JOIN", "en", "join"),
        ("Sign up", "en", "join"),
        ("UNIRME", "es", "join"),
        ("ÚNETE", "es", "join"),
        ("unete", "es", "join"),
        ("quiero unirme", "es", "join"),
        ("RIGHTS", "en", "know_your_rights"),
        ("KYR", "en", "know_your_rights"),
        ("Conoce tus derechos", "es", "know_your_rights"),
        ("REPORT", "en", "report"),
        ("Reportar", "es", "report"),
        ("denunciar", "es", "report"),
        ("RSVP", "es", "summit_rsvp"),  # the integrator answers it (which event?)
        ("rsvp", "en", "summit_rsvp"),
    ],
)
def test_trigger_keywords(flows, keyword, lang, flow_id):
    result = handle(flows, None, ContactView(language=lang), keyword, NOW, VARIABLES)
    assert result.handled and result.session and result.session.flow_id == flow_id
    assert not any(isinstance(e, SetLanguage) for e in result.effects)


def test_an_english_speaker_texting_unirme_gets_spanish(flows):
    result = handle(flows, None, EN_SMS, "UNIRME", NOW, VARIABLES)
    assert result.effects[:2] == [SetLanguage("es"), OptIn("join")]
    assert "Te inscribiste" in result.outputs[0].text
