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
| everywhere | `ctrl+p` | command palette: open any question by name, change theme |
| everywhere | `f1` | this help |
| everywhere | `ctrl+q` | quit (drafts are saved) |
| home | `/` | filter by words; the menus filter by tag, level and status |
| home | `enter` | open the question |
| question | `ctrl+r` | **Run**: the visible checks, for code |
| question | `ctrl+s` | **Submit**: every check, recorded |
| question | `ctrl+g` | the next hint (counted) |
| question | `f3` | the solution and explanation (before a pass: recorded as given up) |
| question | `ctrl+l` | history of your attempts |
| question | `ctrl+o` | edit in `$EDITOR` |
| question | `f2` | reset to the starter |
| question | `ctrl+z` / `ctrl+y` | undo / redo in the editor |
| question | `escape` | back to the list (in the code editor, the first escape leaves the editor: tab indents there) |
| results | `enter` on a check | move the editor's cursor to the line it names |

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
