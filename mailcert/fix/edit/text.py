"""Line-level helpers the config editors share: split a file into physical lines and put it back as it was."""

from __future__ import annotations

from mailcert.errors import MailcertError


class Lines:
    """A file's physical lines (1-based, split at each LF as the config parsers number them), written back
    with each line's own ending: a file with a few CRLF lines (edited on Windows) keeps them, and its LF
    lines stay LF. New lines get the file's usual ending (CRLF only when every line has it)."""

    def __init__(self, text: str) -> None:
        self.items = text.split("\n")
        self.final_newline = text.endswith("\n")
        if self.final_newline:
            self.items.pop()
        # lines with an ending; an unterminated last line keeps its bytes as they are
        ended = len(self.items) if self.final_newline else len(self.items) - 1
        self.crlf = [index < ended and item.endswith("\r") for index, item in enumerate(self.items)]
        self.items = [item[:-1] if crlf else item for item, crlf in zip(self.items, self.crlf, strict=True)]
        self.newline = "\r\n" if ended and all(self.crlf[:ended]) else "\n"

    def _end_last_line(self) -> None:
        """Before a line goes after an unterminated last line, that line gets the file's usual ending."""
        if not self.final_newline and self.items:
            self.crlf[-1] = self.newline == "\r\n"
            self.final_newline = True

    def __len__(self) -> int:
        return len(self.items)

    def get(self, line: int, where: str) -> str:
        if not 1 <= line <= len(self.items):
            raise MailcertError(f"{where}: line {line} does not exist (the file changed since it was read?)")
        return self.items[line - 1]

    def set(self, line: int, text: str) -> None:
        if not 1 <= line <= len(self.items):
            raise MailcertError(f"line {line} does not exist (the file changed since it was read?)")
        self.items[line - 1] = text

    def insert_after(self, line: int, texts: list[str]) -> None:
        if line >= len(self.items) and texts and not self.final_newline:
            self.crlf[-1] = self.newline == "\r\n"  # the new last line is the unterminated one now
        self.items[line:line] = texts
        self.crlf[line:line] = [self.newline == "\r\n"] * len(texts)

    def delete(self, line: int) -> None:
        del self.items[line - 1]
        del self.crlf[line - 1]

    def append(self, text: str) -> None:
        self._end_last_line()
        self.items.append(text)
        self.crlf.append(self.newline == "\r\n")
        self.final_newline = True

    def text(self) -> str:
        ends = ["\r\n" if crlf else "\n" for crlf in self.crlf]
        if not self.final_newline and ends:
            ends[-1] = ""
        return "".join(item + end for item, end in zip(self.items, ends, strict=True))


def indentation(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]
