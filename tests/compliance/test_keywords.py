"""classify(): opt-out, opt-in, help and language keywords in Spanish and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.compliance.keywords import (
    ENV_DIR,
    ORDER,
    Intent,
    KeywordDataError,
    classify,
    load_rules,
)
from bot.text import normalize

# Exact keywords (Twilio's English ones and common Spanish ones), with the
# case, accents, punctuation, emoji, repeats and politeness people add.
OPT_OUT_KEYWORDS = [
    "STOP",
    "stop",
    "stop!!!",
    "STOP 🛑",
    "🛑 Stop 🛑",
    "Stop please",
    "please stop",
    "stop stop stop",
    "STOP " * 40,
    "STOP. Thanks",
    "ＳＴＯＰ",
    "STOPALL",
    "stop all",
    "Unsubscribe",
    "CANCEL",
    "end",
    "Quit",
    "REVOKE",
    "optout",
    "opt-out",
    "Opt Out",
    "no more",
    "BAJA",
    "baja por favor",
    "Baja, gracias",
    "¡ALTO!",
    "Parar",
    "Para",
    "PARA YA",
    "paren",
    "cancelar",
    "Detener",
    "NO MÁS",
    "Ya no más!!",
    "Salir",
    "Darme de baja",
    "DE BAJA",
    "Fin",
    "Hola, stop",
    "Stop now",
]

# Sentences that clearly ask to stop (FCC 24-18: "any reasonable means").
OPT_OUT_SENTENCES = [
    # English
    "please stop texting me",
    "stop sending me messages",
    "Stop sending me this crap",
    "stop sending these texts",
    "Could you please stop sending",
    "remove me from this list",
    "Please remove my number",
    "delete my info",
    "unsubscribe me",
    "How do I unsubscribe?",
    "I unsubscribed already, why are you still texting",
    "Unsuscribe",
    "opt me out",
    "I want to opt out",
    "don't text me anymore",
    "Don't text me",
    "Do not contact me",
    "never text me again",
    "don't message again",
    "don't send me anything",
    "don't send me these messages",
    "I don't want these texts",
    "I do not want to receive messages",
    "no more messages",
    "No more texts please",
    "quit messaging me",
    "stop contacting",
    "Stop bothering me",
    "stop the messages",
    "End these texts",
    "Stop all notifications",
    "I want to stop receiving messages",
    "How do I stop getting these texts",
    "I want to stop receiving",
    "stop it",
    "Just stop it!!",
    "STOP THIS!",
    "I said STOP",
    "I told you to stop.",
    "take me off your list",
    "Get me off this list",
    "how do I leave this list",
    "leave me alone",
    "how do I stop this?",
    "cancel my subscription",
    "Wrong number",
    "you have the wrong person",
    # Sentence keywords inside a longer message
    "Stop. Who is this?",
    "Who is this?? STOP",
    "STOP\nI never signed up for this",
    "Help. Stop",
    "START. STOP.",
    "STOP HELP",
    "start stop",
    "Stop info",
    # Spanish
    "ya no me manden mensajes",
    "no me manden más mensajes",
    "No me envíen nada",
    "no me manden más",
    "Ya no me envíen",
    "dejen de mandarme mensajes",
    "deja de escribirme",
    "Quiero que dejen de molestarme",
    "dejen de mandar mensajes",
    "quiero dejar de recibir estos mensajes",
    "quiero dejar de recibir",
    "quiero darme de baja",
    "denme de baja por favor",
    "dame de baja",
    "¿Cómo me doy de baja?",
    "me quiero dar de baja",
    "quiero la baja del servicio",
    "bórrenme de la lista",
    "sáquenme de este grupo",
    "por favor bórrenme",
    "Quítenme",
    "Me pueden quitar de la lista?",
    "Remove",
    "Deténganse",
    "quiero que me borren de la lista",
    "borren mi número",
    "Eliminen mi contacto",
    "ya no quiero recibir mensajes",
    "no quiero más mensajes",
    "No queremos estos mensajes",
    "ya no quiero recibir",
    "no quiero que me manden nada",
    "no quiero estar en la lista",
    "no me escriban más",
    "no me molesten",
    "No me textees",
    "para de mandarme cosas",
    "paren de escribir",
    "paren los mensajes",
    "detengan los mensajes por favor",
    "basta de mensajes",
    "quiero salir de la lista",
    "¿Cómo me salgo del grupo?",
    "me quiero salir",
    "Quiero salirme",
    "no más mensajes",
    "Favor de no enviar más mensajes",
    "i want out",
    "No mas textos!!",
    "déjenme en paz",
    "cancelar mi suscripción",
    "cancelen los mensajes",
    "quiero desuscribirme",
    "número equivocado",
    "Se equivocaron de número",
    "Dije que paren",
    "¿Quién es? Paren.",
]

# Ordinary sentences with stop-like words in them: must stay in the conversation.
NOT_OPT_OUT = [
    "para mi familia",
    "¿para cuándo es la marcha?",
    "¿Para qué?",
    "La marcha es para todos",
    "we must stop the flow of guns",
    "stop gun trafficking",
    "STOP ICE RAIDS",
    "Stop the deportations",
    "Stop sending troops to the border",
    "the bus stop is on Main",
    "Stop by the office at 5",
    "I can't stop crying",
    "we will not stop",
    "no more guns",
    "No more family separations",
    "¡No más deportaciones!",
    "quiero información sobre la marcha",
    "alto al fuego",
    "Alto a las redadas",
    "Es muy alto",
    "paren la violencia",
    "Detengan las redadas",
    "end the war",
    "The end",
    "cancel the deportations",
    "Cancelaron la marcha?",
    "Vivo en Tijuana, Baja",
    "Baja California",
    "Baja la voz",
    "Mi hermano fue dado de baja del trabajo",
    "Me dieron de baja del trabajo",
    "Voy a salir a las 5",
    "¿Cómo salgo de casa sin que me vean?",
    "Sácame de dudas",
    # In a migrant context this can be a person in detention asking for help.
    "¡Sáquenme de aquí!",
    "Me quieren sacar de aquí",
    # A mix of weak keywords is not a stop: "para" here means "for".
    "ayuda para",
    "info para inglés",
    "no me manden a casa",
    "Take me to the march",
    "Can we stop the text banking early?",
    "¡Ya basta!",
    "No, gracias",
    "no",
    "no puedo ir",
    # Negated requests are not requests.
    "I don't want to unsubscribe",
    "please don't stop texting me",
    "no dejen de mandarme mensajes",
    "no me borren de la lista",
    "No quiero darme de baja",
]

OPT_IN = [
    "START",
    "start please",
    "Unstop",
    "ALTA",
    "De alta",
    "Reanudar",
    "darme de alta",
    "Opt in",
]
NOT_OPT_IN = [
    # YES / SÍ answer the bot's questions; they are not an opt-in (see opt_in.yaml).
    "yes",
    "YES",
    "Yes please",
    "Sí",
    "si",
    "claro",
    "ok",
    "start the march at 5",
    "I want to start volunteering",
    "quiero darme de alta en el seguro",
]

HELP = ["HELP", "help!", "Info", "INFO?", "AYUDA!!", "ayuda por favor", "Información"]
NOT_HELP = [
    # Only the bare keyword gets the canned CTIA HELP text; these go to a person or flow.
    "quiero información sobre la marcha",
    "necesito ayuda con mi caso",
    "can you help me find a lawyer",
    "más info",
    "help the families",
]

LANGUAGE = [
    ("Español", Intent.LANGUAGE_ES),
    ("ESPANOL", Intent.LANGUAGE_ES),
    ("spanish", Intent.LANGUAGE_ES),
    ("en español por favor", Intent.LANGUAGE_ES),
    ("Castellano", Intent.LANGUAGE_ES),
    ("English", Intent.LANGUAGE_EN),
    ("inglés", Intent.LANGUAGE_EN),
    ("in English please", Intent.LANGUAGE_EN),
    ("idioma", Intent.LANGUAGE_ASK),
    ("Language", Intent.LANGUAGE_ASK),
    ("LENGUAJE", Intent.LANGUAGE_ASK),
    ("cambiar idioma", Intent.LANGUAGE_ASK),
]
NOT_LANGUAGE = [
    "¿Tienen el volante en español?",
    "Do you speak English?",
    "I speak Spanish and English",
]


@pytest.mark.parametrize("text", OPT_OUT_KEYWORDS)
def test_opt_out_keywords(text: str) -> None:
    assert classify(text) is Intent.OPT_OUT


@pytest.mark.parametrize("text", OPT_OUT_SENTENCES)
def test_opt_out_sentences(text: str) -> None:
    assert classify(text) is Intent.OPT_OUT


@pytest.mark.parametrize("text", NOT_OPT_OUT)
def test_ordinary_sentences_are_not_opt_out(text: str) -> None:
    assert classify(text) is Intent.NONE


@pytest.mark.parametrize("text", OPT_IN)
def test_opt_in(text: str) -> None:
    assert classify(text) is Intent.OPT_IN


@pytest.mark.parametrize("text", NOT_OPT_IN)
def test_not_opt_in(text: str) -> None:
    assert classify(text) is Intent.NONE


@pytest.mark.parametrize("text", HELP)
def test_help(text: str) -> None:
    assert classify(text) is Intent.HELP


@pytest.mark.parametrize("text", NOT_HELP)
def test_not_help(text: str) -> None:
    assert classify(text) is Intent.NONE


@pytest.mark.parametrize(("text", "intent"), LANGUAGE)
def test_language(text: str, intent: Intent) -> None:
    assert classify(text) is intent


@pytest.mark.parametrize("text", NOT_LANGUAGE)
def test_not_language(text: str) -> None:
    assert classify(text) is Intent.NONE


@pytest.mark.parametrize("text", ["", "   ", "🛑", "?!", "👍"])
def test_empty_or_symbols_only(text: str) -> None:
    assert classify(text) is Intent.NONE


def test_intent_values_are_stable() -> None:
    """inbound stores the value in messages.handled_by."""
    assert [i.value for i in Intent] == [
        "opt_out",
        "opt_in",
        "help",
        "language_es",
        "language_en",
        "language_ask",
        "erase_request",
        "erase_confirm",
        "my_data",
        "none",
    ]
    assert ORDER[0] is Intent.OPT_OUT


def test_every_opt_out_pattern_has_a_positive_example() -> None:
    """No pattern in opt_out.yaml is dead or untested."""
    rules = load_rules()
    opt_out = dict(rules.intents)[Intent.OPT_OUT]
    cores = [" ".join(rules.strip_filler(normalize(t).split())) for t in OPT_OUT_SENTENCES]
    untested = [p.pattern for p in opt_out.patterns if not any(p.search(c) for c in cores)]
    assert untested == []


def test_long_message_is_still_searched_for_sentences() -> None:
    story = "Hola, gracias por la información de la marcha. " * 20
    assert classify(story + "Pero ya no me manden mensajes.") is Intent.OPT_OUT
    assert classify(story) is Intent.NONE


# --- a deployer's extra keyword files ---------------------------------------

PORTUGUESE = """
terms:
  msgs_pt: '(?:mensagens|mensagem)'
filler: [obrigado]
opt_out:
  keywords: [sair, "pare de enviar"]
  patterns: ['\\bnao quero (?:mais )?{msgs_pt}\\b']
"""


def _extra(tmp_path: Path, text: str, name: str = "extra.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_extra_dir_adds_keywords_and_patterns(tmp_path: Path) -> None:
    extra = _extra(tmp_path, PORTUGUESE)
    assert classify("SAIR obrigado", extra_dir=extra) is Intent.OPT_OUT
    assert classify("Pare de enviar!", extra_dir=extra) is Intent.OPT_OUT
    assert classify("Não quero mais mensagens", extra_dir=extra) is Intent.OPT_OUT
    assert classify("STOP", extra_dir=extra) is Intent.OPT_OUT  # the base lists stay
    assert classify("SAIR obrigado") is Intent.NONE


def test_extra_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, str(_extra(tmp_path, PORTUGUESE)))
    assert classify("não quero mensagens") is Intent.OPT_OUT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("opt-out:\n  keywords: [sair]\n", "unknown section"),
        ("opt_out:\n  words: [sair]\n", "unknown"),
        ("opt_out:\n  keywords: sair\n", "list of strings"),
        ("opt_out:\n  patterns: ['(unclosed']\n", "bad pattern"),
        ("opt_out:\n  patterns: ['{nope}']\n", "unknown term"),
        ("terms:\n  me: 'mim'\n", "already defined"),
        ("- sair\n", "mapping"),
        ("opt_out:\n  keywords: ['🛑']\n", "never match"),
    ],
)
def test_bad_extra_file_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(KeywordDataError, match=message):
        load_rules(_extra(tmp_path, text))


def test_missing_extra_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KeywordDataError, match="not a directory"):
        classify("stop", extra_dir=tmp_path / "missing")
