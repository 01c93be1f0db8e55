"""Nasty strings, as data: what people (or a pasted log line, or a bad actor) may put in any text field.

Every string is given as Slack delivers it in a slash command with `should_escape: true`: what a person typed
has `&`, `<` and `>` escaped, while mentions, broadcasts and links Slack made (or a client forged) arrive as
raw `<…>` markup. Modal inputs arrive unescaped, so the same strings sent there are even rawer.

`LIVE_MARKUP` says what must never come back out of the bot when it came in through these strings.
"""

from __future__ import annotations

import re
from itertools import combinations

# Ids and hosts the corpus uses; none of them exists in the sandbox workspace, so any of them showing up
# live in something the bot sent can only have come from the input.
EVIL_HOST = "evil.example"
DECOY_LABEL = "good.example"
BRIEF_GROUP = "S1"  # the id the hardening issue names
EVIL_GROUP = "SEVIL0001"  # shaped like a real id, so id-shaped mention handling sees it too
EVIL_USER = "UEVIL0001"

TEN_KB = 10 * 1024

NASTY: dict[str, str] = {
    "nul": "before\x00after",
    "c0 controls": "bell\x07 escape\x1b[31mred\x1b[0m del\x7f",
    "c1 control": "next\x85line",
    "newlines and tabs": "one\ntwo\r\nthree\tfour",
    "bidi override": "\u202etxt.exe\u202c invoice",
    "bidi isolates": "\u2067\u05d0\u05d1\u2069 and \u2066abc\u2069\u200f",
    "zero width": "Pay\u200bments\u200c 2.4\u200d\ufeff",
    "zwj emoji": "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 👍🏽 🧑🏿\u200d🚀",
    "combining marks": "Z\u0337\u0327\u031ba\u0338l\u0334g\u0335o\u0336",
    "ten kb word": "x" * TEN_KB,
    "ten kb words": ("release " * (TEN_KB // 8)).strip(),
    "broadcast channel": "<!channel>",
    "broadcast here": "<!here|here>",
    "broadcast everyone": "<!everyone> please read",
    "user group": f"<!subteam^{BRIEF_GROUP}>",
    "user group labelled": f"<!subteam^{EVIL_GROUP}|@ops>",
    "typed broadcast": "&lt;!channel&gt; hi all",
    "typed user group": f"&lt;!subteam^{EVIL_GROUP}|@ops&gt;",
    "typed user mention": f"&lt;@{EVIL_USER}&gt; see log",
    "disguised link": f"<https://{EVIL_HOST}/login|https://{DECOY_LABEL}>",
    "disguised mailto": f"<mailto:help@{EVIL_HOST}|help@{DECOY_LABEL}>",
    "typed disguised link": f"&lt;https://{EVIL_HOST}|https://{DECOY_LABEL}&gt;",
    "bare link": f"<https://{EVIL_HOST}/x>",
    "user mention": f"<@{EVIL_USER}> look",
    "sql quote": "Robert'); DROP TABLE release;--",
    "sql tautology": "' OR '1'='1' --",
    "format strings": "{0} %s %(name)s {{ 7*7 }} {% raw %} ${HOME}",
    "entities": "R&amp;amp;D &amp;lt;b&amp;gt; &amp;#x27;",
    "mrkdwn": "*bold* _it_ ~gone~ `code` ```block``` &gt; quote",
    "emoji codes": ":white_check_mark: :rotating_light::skin-tone-2:",
    "rtl name": "\u200fמהדורה 2.4\u200f",
    "homoglyphs": "\u0420\u0430yments 2.4",
    "unicode spaces": "\u00a0\u2003\u3000",
    "quotes": "\"“”„«»'‘’",
    "backslashes": '\\" \\n \\u0000 \\',
    "number words": "99999999999999999999 -1 0 +3d",
}

# The worst of the above, together: one string that tries everything at once.
COMBINED: dict[str, str] = {
    f"{a} + {b}": f"{NASTY[a]} {NASTY[b]}"
    for a, b in combinations(
        ["broadcast channel", "disguised link", "bidi override", "nul", "typed broadcast", "user group"], 2
    )
}
COMBINED["everything"] = " ".join(NASTY[k] for k in NASTY if "ten kb" not in k)
COMBINED["ten kb of markup"] = ("<!channel> " * (TEN_KB // 11)).strip()

CORPUS: dict[str, str] = {**NASTY, **COMBINED}

# Modal inputs travel as JSON, which can carry what a form body cannot: a lone surrogate.
MODAL_ONLY: dict[str, str] = {"lone surrogate": "half\ud800pair"}

# The corpus strings tried against every command position; the rest rotate through (see `sample`).
ALWAYS = (
    "broadcast channel",
    "typed broadcast",
    "disguised link",
    "user group labelled",
    "nul",
    "ten kb words",
)

BROADCAST = re.compile(r"<!(?:channel|here|everyone)\b", re.IGNORECASE)  # the bot never makes one
DISGUISED_LINK = re.compile(
    rf"<[^<>|]*{re.escape(EVIL_HOST)}[^<>|]*\|"  # a labelled link to the corpus's host
    rf"|<[^<>]*\|[^<>]*{re.escape(DECOY_LABEL)}[^<>]*>",  # a link wearing the corpus's decoy label
    re.IGNORECASE,
)
# Mentions of the corpus's made-up user and group. The bot builds mentions from ids, and may show a person
# the ids they sent in a reply only they see (an ephemeral notifies no one); anywhere else they are leaks.
LIVE_GROUP = re.compile(rf"<!subteam\^(?:{BRIEF_GROUP}|{EVIL_GROUP})[|>]")
LIVE_USER = re.compile(rf"<@{EVIL_USER}[|>]")


def live_markup(text: str, *, private: bool = False, authored: bool = False) -> list[str]:
    """The pieces of `text` Slack would act on that could only have come from the corpus.

    `private`: an ephemeral reply to the person who sent the input, where mentions ping no one.
    `authored`: a person's own mrkdwn (an announcement they wrote): links and people they mention are theirs,
    but a user group would ping a crowd, like a broadcast.
    """
    patterns = [BROADCAST]
    patterns += [] if authored else [DISGUISED_LINK]
    patterns += [] if private else [LIVE_GROUP] if authored else [LIVE_GROUP, LIVE_USER]
    return [m.group(0) for pattern in patterns for m in pattern.finditer(text)]


def names_for(index: int, rotating: int) -> list[str]:
    """The corpus names place `index` gets: every `ALWAYS` one, and `rotating` more walking the rest."""
    extra = [name for name in CORPUS if name not in ALWAYS]
    return [*ALWAYS, *(extra[(index * rotating + j) % len(extra)] for j in range(rotating))]


def sample(templates: list[str], rotating: int) -> list[tuple[str, str, str]]:
    """(template, corpus name, filled text) for each template, `{x}` replaced by each of its strings.

    Deterministic, and every corpus string is tried somewhere (see `names_for`).
    """
    return [
        (template, name, template.replace("{x}", CORPUS[name]))
        for index, template in enumerate(templates)
        for name in names_for(index, rotating)
    ]
