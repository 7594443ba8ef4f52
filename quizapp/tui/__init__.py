"""The practice TUI. The only package that imports textual; it never imports torch."""
