"""The keys, on one screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Keys

| where | key | does |
| --- | --- | --- |
| everywhere | `ctrl+p` | command palette: open any question by name, this screen's actions, themes |
| everywhere | `f1` | this help |
| everywhere | `ctrl+q` | quit (drafts are saved) |
| home | `/` | search by words (title, id, pack, kind, tags); the menus filter by pack, tag, level and status |
| home | `enter` | open the question |
| home | `c` | continue where you left off (the question you worked on last) |
| home | `n` | the next question you have not solved |
| home | `m` / `r` | a mock interview / the review of what is due |
| question | `escape` | back to the list, from anywhere, the editor too (while grading: cancel it) |
| question | `ctrl+r` | **Run**: the visible checks (code and fix) |
| question | `ctrl+s` | **Submit**: every check, recorded |
| question | `f4` | cancel a running grade |
| question | `ctrl+t` | the next hint (counted), shown at the top of the prompt |
| question | `f3` | the solution and explanation (before a pass: recorded as given up) |
| question | `f5` | zoom: the focused pane (prompt, answer, results) gets the whole screen; again to restore |
| question | `f6` | the next pane (prompt, answer, results) |
| question | `ctrl+n` / `f8` | the next question / the next one not yet solved |
| question | `ctrl+l` | history of your attempts |
| question | `ctrl+o` | edit in `$EDITOR` |
| question | `f2` | reset to the starter |
| editor | `tab` / `shift+tab` | indent / dedent; Enter keeps the indentation and indents after a colon |
| editor | `ctrl+a` / `ctrl+g` | select all / go to line |
| editor | `ctrl+z` / `ctrl+y` | undo / redo |
| choices | `enter` or `space` | select the highlighted option |
| results | `enter` on a check | move the editor's cursor to the line it names |
| review | `1` to `4` | after a passed choice or explain card: Again, Hard, Good, Easy (Enter keeps the earned one) |

Drafts are saved every two seconds and whenever you leave a question.
The status line says whether the judge is warm and how well it isolates your code (full or reduced jail).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss()
