"""The one Markdown escaping (mailcert/report/markdown_escape.py) on generated values heavy in backticks:
read back as CommonMark reads it, a fenced block holds exactly its body and a code span exactly its text,
also inside a whole `fix --format markdown` plan."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from mailcert.report.fix_plan import render_markdown
from mailcert.report.markdown_escape import md_code, md_fence
from mailcert.wording import printable
from tests.hostile.markdown_read import code_spans, fenced_blocks
from tests.hostile.reports import RAW_CONTROL, markdown_tables_intact

BITS = st.sampled_from(
    ["`", "``", "```", "````", "~~~", " ", "\n", "|", "<", ">", "[", "](", "\\", "a", "#", "\t"]
)
VALUE = st.one_of(
    st.lists(BITS, max_size=30).map("".join),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)


@given(VALUE, st.sampled_from(["diff", "sh", ""]))
def test_a_fence_holds_exactly_its_body(body: str, info: str) -> None:
    lines = md_fence(body, info)
    assert fenced_blocks("\n".join(lines)) == [printable(body).splitlines()]


@given(VALUE.filter(lambda v: bool(printable(v).split())))
def test_a_code_span_holds_exactly_its_text(text: str) -> None:
    expected = " ".join(printable(text).split()).replace("|", "\\|")
    assert code_spans(md_code(text)) == [expected]


@given(VALUE.filter(lambda v: bool(v.strip()) and "\n" not in v), VALUE, VALUE, VALUE)
def test_a_plan_with_any_path_diff_and_command_reads_back_intact(
    name: str, after: str, argument: str, host: str
) -> None:
    path = f"/etc/postfix/{name}"
    change = Change(ChangeKind.EDIT, "edit", file=FileChange(path, "a\n", after))
    command = Change(ChangeKind.COMMAND, "run", command=Command(("postmap", argument)))
    markdown = render_markdown([HostPlan(host=host or "mx", changes=(change, command))])
    assert not RAW_CONTROL.search(markdown)
    markdown_tables_intact(markdown)
    assert change.file is not None
    assert fenced_blocks(markdown) == [printable(change.file.diff.rstrip("\n")).splitlines()]
    [path_line] = [line for line in markdown.split("\n") if line == md_code(path)]
    assert code_spans(path_line) == [" ".join(printable(path).split()).replace("|", "\\|")]
