"""Announcement templates: headers, declared variables and mentions, overrides, and the shipped templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.templating.announcements import (
    KINDS,
    VARIABLES,
    AnnouncementTemplates,
    builtin_dir,
    check_dirs,
    minimal_context,
    override_dir,
    sample_context,
)
from bot.templating.sandbox import SlackMarkup, TemplateError

HEADER = "{#---\ntitle: Upcoming release\nvariables: [release, launch]\nmentions: []\n---#}\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_one(tmp_path: Path, text: str, name: str = "upcoming.j2") -> AnnouncementTemplates:
    write(tmp_path, name, text)
    return AnnouncementTemplates.from_dirs(tmp_path)


def load_error(tmp_path: Path, text: str, name: str = "upcoming.j2") -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        load_one(tmp_path, text, name)
    assert caught.value.source == str(tmp_path / name)
    return caught.value


# --- the shipped templates ---------------------------------------------------------------------------


def test_builtin_dir_holds_one_template_per_kind() -> None:
    assert builtin_dir() == Path(__file__).resolve().parents[2] / "templates" / "announcements"
    assert sorted(p.name for p in builtin_dir().glob("*.j2")) == sorted(f"{kind}.j2" for kind in KINDS)


def test_builtin_templates_have_no_problems() -> None:
    assert check_dirs(builtin_dir()) == []
    assert AnnouncementTemplates.from_dirs().check() == []


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_template_renders_sample_and_sparse_values(kind: str) -> None:
    templates = AnnouncementTemplates.from_dirs()
    full = templates.render(kind, sample_context(kind))
    sparse = templates.render(kind, minimal_context(kind))
    assert "Payments 2.4" in full and "Payments 2.4" in sparse
    assert "None" not in full + sparse
    assert "\n\n\n" not in full + sparse
    # The shipped templates ping nobody: whoever wants <!here> adds it in an override.
    assert "<!" not in full.replace("<!date^", "") and templates.get(kind).mentions == frozenset()


def test_shipped_templates_say_what_each_kind_needs() -> None:
    templates = AnnouncementTemplates.from_dirs()
    delayed = templates.render("delayed", sample_context("delayed"))
    assert str(sample_context("delayed")["old_launch"]) in delayed
    assert str(sample_context("delayed")["launch"]) in delayed
    rolled_back = templates.render("rolled_back", sample_context("rolled_back"))
    assert sample_context("rolled_back")["reason"].replace("&", "&amp;") in rolled_back
    completed = templates.render("completed", sample_context("completed"))
    assert "<https://docs.example.com/releases/payments-2.4>" in completed
    assert "<@U0MAYA> and <@U0LEE>" in completed
    upcoming = templates.render("upcoming", sample_context("upcoming"))
    assert "&amp; a faster checkout" in upcoming  # the person's "&" is escaped


def test_shipped_templates_declare_only_known_variables() -> None:
    templates = AnnouncementTemplates.from_dirs()
    for kind in templates.kinds():
        template = templates.get(kind)
        assert set(template.variables) <= set(VARIABLES)
        assert template.title and template.kind == kind
        assert template.text == (builtin_dir() / f"{kind}.j2").read_text(encoding="utf-8")


def test_sample_context_has_every_variable_with_markup_where_due() -> None:
    for kind in KINDS:
        context = sample_context(kind)
        assert set(context) == set(VARIABLES)
        assert isinstance(context["launch"], SlackMarkup) and isinstance(context["channel"], SlackMarkup)
        assert all(isinstance(m, SlackMarkup) for m in context["managers"])
    assert isinstance(sample_context("delayed")["old_launch"], SlackMarkup)
    assert sample_context("upcoming")["old_launch"] is None


# --- the API -----------------------------------------------------------------------------------------


def test_kinds_are_in_release_order() -> None:
    assert AnnouncementTemplates.from_dirs().kinds() == list(KINDS)


@pytest.mark.parametrize("method", ["get", "render"])
def test_unknown_kind_is_a_template_error_with_a_guess(method: str) -> None:
    templates = AnnouncementTemplates.from_dirs()
    with pytest.raises(TemplateError, match='did you mean "go_live"'):
        if method == "get":
            templates.get("golive")
        else:
            templates.render("golive", sample_context("go_live"))


def test_override_replaces_one_kind_and_the_rest_fall_back(tmp_path: Path) -> None:
    write(
        tmp_path, "upcoming.j2", HEADER.replace("mentions: []", "mentions: [here]") + "<!here> {{ release }}"
    )
    for templates in (
        AnnouncementTemplates.from_dirs(tmp_path),
        AnnouncementTemplates.from_dirs(builtin_dir(), tmp_path),
        AnnouncementTemplates.from_dirs(None, builtin_dir(), tmp_path, None),
    ):
        assert templates.render("upcoming", sample_context("upcoming")) == "<!here> Payments 2.4"
        assert templates.get("upcoming").source == str(tmp_path / "upcoming.j2")
        assert templates.get("upcoming").mentions == frozenset({"here"})
        assert templates.get("go_live").source == str(builtin_dir() / "go_live.j2")


def test_later_dirs_win(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write(first, "completed.j2", HEADER.replace("Upcoming release", "First") + "one {{ release }}")
    write(second, "completed.j2", HEADER.replace("Upcoming release", "Second") + "two {{ release }}")
    templates = AnnouncementTemplates.from_dirs(first, second)
    assert templates.get("completed").title == "Second"
    assert templates.render("completed", sample_context("completed")) == "two Payments 2.4"


def test_other_files_are_ignored_but_unknown_kinds_are_not(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "notes")
    write(tmp_path, ".upcoming.j2.swp", "junk")
    assert AnnouncementTemplates.from_dirs(tmp_path).kinds() == list(KINDS)
    error = load_error(tmp_path, HEADER + "x", name="upcomming.j2")
    assert 'did you mean "upcoming"' in error.message


def test_missing_override_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="folder does not exist"):
        AnnouncementTemplates.from_dirs(tmp_path / "nope")


# --- headers and declarations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("{{ release }}", 1, "starts with its header"),
        ("{#---\ntitle: [unclosed\n---#}\nx", 3, "not valid YAML"),
        ("{#---\n- a\n- b\n---#}\nx", 2, "must be YAML fields"),
        ("{#---\nvariables: [release]\n---#}\n{{ release }}", 2, "needs a title"),
        ("{#---\ntitle: ''\n---#}\nx", 2, "needs a title"),
        (
            "{#---\ntitle: Up\nvariable: [release]\n---#}\nx",
            3,
            'unknown header field "variable"; did you mean',
        ),
        ("{#---\ntitle: Up\nvariables: release\n---#}\nx", 3, "variables must be a list"),
        (
            "{#---\ntitle: Up\nvariables: [release, relase]\n---#}\nx",
            3,
            "'relase' is not a template variable (did you mean \"release\"?)",
        ),
        ("{#---\ntitle: Up\nmentions: [all]\n---#}\nx", 3, "unknown mention 'all'"),
        (
            "{#---\ntitle: Up\nvariables: [release]\n---#}\n{{ release }}\n{{ launch }}",
            6,
            "'launch' but its header does not declare it; add it to variables",
        ),
        ("{#---\ntitle: Up\n---#}\n\n{{ nosuch }}", 5, "'nosuch' is not a template variable"),
        ("{#---\ntitle: Up\n---#}\nHi <!here>", 4, "<!here> mention that the header does not allow"),
        ("{#---\ntitle: Up\n---#}\n{% for %}", 4, "Expected"),
    ],
)
def test_bad_template_is_refused_naming_file_and_line(
    tmp_path: Path, text: str, line: int, phrase: str
) -> None:
    error = load_error(tmp_path, text)
    assert phrase in error.message
    assert error.line == line
    assert str(error).startswith(f"{tmp_path / 'upcoming.j2'}:{line}: ")


def test_header_renders_as_nothing_and_keeps_line_numbers(tmp_path: Path) -> None:
    assert load_one(tmp_path, HEADER + "{{ release }}").render("upcoming", sample_context("upcoming")) == (
        "Payments 2.4"
    )
    write(tmp_path, "upcoming.j2", HEADER + "{{ release }}\n{{ launch.nosuch }}")
    templates = AnnouncementTemplates.from_dirs(tmp_path)
    with pytest.raises(TemplateError) as caught:
        templates.render("upcoming", sample_context("upcoming"))
    assert caught.value.line == 7


def test_oversized_and_binary_files_are_refused(tmp_path: Path) -> None:
    assert "characters long" in load_error(tmp_path, HEADER + "x" * 20_000).message
    (tmp_path / "upcoming.j2").write_bytes(b"{#---\ntitle: \xff\n---#}\n")
    with pytest.raises(TemplateError, match="not UTF-8"):
        AnnouncementTemplates.from_dirs(tmp_path)


def test_check_dirs_reports_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "upcoming.j2", "no header")
    write(tmp_path, "go_live.j2", HEADER + "{{ release }}")
    write(tmp_path, "delayed.j2", HEADER + "{{ 'x' * 2999 }}{{ release }}")
    write(tmp_path, "nonsense.j2", HEADER + "x")
    problems = check_dirs(tmp_path, None, tmp_path / "missing")
    sources = [Path(p.source).name for p in problems]
    assert sources == ["delayed.j2", "nonsense.j2", "upcoming.j2", "missing"]
    assert "renders to 3011 characters" in problems[0].message


def test_check_finds_templates_that_fail_only_without_optional_values(tmp_path: Path) -> None:
    header = HEADER.replace("[release, launch]", "[release, downtime]")
    templates = load_one(tmp_path, header + "{{ release }} {{ downtime|length }} {{ downtime.upper() }}")
    problems = templates.check()
    assert [Path(p.source).name for p in problems] == ["upcoming.j2"]
    assert problems[0].line == 6


def test_override_dir_is_the_announcements_folder_inside_templates_dir(tmp_path: Path) -> None:
    assert override_dir(None) is None
    assert override_dir(tmp_path) is None
    (tmp_path / "announcements").mkdir()
    assert override_dir(tmp_path) == tmp_path / "announcements"
