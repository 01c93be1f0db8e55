"""Announcement templates: Jinja2 in a sandbox that renders Slack mrkdwn with every value escaped."""

from bot.templating.announcements import (
    KINDS,
    VARIABLES,
    AnnouncementTemplate,
    AnnouncementTemplates,
    builtin_dir,
    check_dirs,
    override_dir,
    sample_context,
)
from bot.templating.sandbox import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    RENDER_SECONDS,
    SlackMarkup,
    TemplateError,
    render_text,
)

__all__ = [
    "KINDS",
    "MAX_OUTPUT_CHARS",
    "MAX_TEMPLATE_CHARS",
    "RENDER_SECONDS",
    "VARIABLES",
    "AnnouncementTemplate",
    "AnnouncementTemplates",
    "SlackMarkup",
    "TemplateError",
    "builtin_dir",
    "check_dirs",
    "override_dir",
    "render_text",
    "sample_context",
]
