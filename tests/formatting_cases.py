"""Real texts with WhatsApp's marks, in Spanish and English, and what an SMS phone gets.

Shared by the rules' tests (tests/test_formatting.py) and the browser's
(tests/browser/test_formatting.py, which checks formatting.js reads them alike).
"""

from __future__ import annotations

# (what an organizer writes, what an SMS phone gets)
SMS_TEXTS = [
    # pairs around a word or a run of words
    ("*Marcha* el sábado a las 10", "Marcha el sábado a las 10"),
    ("Rally on *Saturday at 10am*", "Rally on Saturday at 10am"),
    ("_Información general_, no asesoría legal", "Información general, no asesoría legal"),
    ("~Lunes~ *Martes*: cambió la fecha", "Lunes Martes: cambió la fecha"),
    ("Code: ```PUENTE24```", "Code: PUENTE24"),
    ("*_Importante_*: lleva agua", "Importante: lleva agua"),
    ("¡*Sí se puede*!", "¡Sí se puede!"),
    ("(*gratis*) free legal clinic", "(gratis) free legal clinic"),
    ('"*Know your rights*", from Puente.', '"Know your rights", from Puente.'),
    (
        "*Conoce tus derechos*, de Puente.\nAyuda legal: 555-0100",
        "Conoce tus derechos, de Puente.\nAyuda legal: 555-0100",
    ),
    ("Reply *1* for yes, *2* for no", "Reply 1 for yes, 2 for no"),
    ("*Día 1:* registro", "Día 1: registro"),
    ("*Ñandú* y _pingüino_", "Ñandú y pingüino"),
    ("*Marcha* 📣 _hoy_ 🇲🇽", "Marcha 📣 hoy 🇲🇽"),
    # marks inside words, numbers or lists are text
    ("Sube el archivo lista_de_firmas_2024.csv", "Sube el archivo lista_de_firmas_2024.csv"),
    ("2*3*4 = 24", "2*3*4 = 24"),
    ("snake_case_name", "snake_case_name"),
    ("* agua\n* gorra\n* amigos", "* agua\n* gorra\n* amigos"),
    ("5 * 3 = 15", "5 * 3 = 15"),
    ("Precio ~$20 USD", "Precio ~$20 USD"),
    # not across lines, not empty, not around spaces
    ("*Marcha\nel sábado*", "*Marcha\nel sábado*"),
    ("** y __ no son nada", "** y __ no son nada"),
    ("* espacio *", "* espacio *"),
    ("*hola *", "*hola *"),
    # unmatched marks are left as they are
    ("*Importante: lee esto", "*Importante: lee esto"),
    ("Nota_ al pie", "Nota_ al pie"),
    ("Use the ~ key", "Use the ~ key"),
    # addresses are never changed, formatted or not
    (
        "Firma aquí: https://puente.example.org/p/mi_peticion_2024",
        "Firma aquí: https://puente.example.org/p/mi_peticion_2024",
    ),
    ("Sign: https://puente.example.org/_x_/a*b*c", "Sign: https://puente.example.org/_x_/a*b*c"),
    ("*https://puente.example.org/j/frontera*", "https://puente.example.org/j/frontera"),
    ("Visit www.puente.example.org/_join_ today", "Visit www.puente.example.org/_join_ today"),
    ("Escribe a ana_maria@example.org", "Escribe a ana_maria@example.org"),
    ("Write to _help@puente.example.org_", "Write to help@puente.example.org"),
    # WhatsApp shows monospace as typed; SMS has none, so marks inside are removed too
    ("```*no* _format_```", "no format"),
    ("```lista_de_firmas```", "lista_de_firmas"),
    # the nearest closing mark closes; what is left never reads as formatting on SMS
    ("*a *b* c*", "a b c"),
]
