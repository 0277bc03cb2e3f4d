"""Line-level helpers the config editors share: split a file into physical lines and put it back as it was."""

from __future__ import annotations

from mailcert.errors import MailcertError


class Lines:
    """A file's physical lines (1-based), written back with the file's own line ending."""

    def __init__(self, text: str) -> None:
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.items = text.split(self.newline)
        self.final_newline = text.endswith(self.newline)
        if self.final_newline:
            self.items.pop()

    def __len__(self) -> int:
        return len(self.items)

    def get(self, line: int, where: str) -> str:
        if not 1 <= line <= len(self.items):
            raise MailcertError(f"{where}: line {line} does not exist (the file changed since it was read?)")
        return self.items[line - 1]

    def set(self, line: int, text: str) -> None:
        self.items[line - 1] = text

    def insert_after(self, line: int, texts: list[str]) -> None:
        self.items[line:line] = texts

    def delete(self, line: int) -> None:
        del self.items[line - 1]

    def append(self, text: str) -> None:
        self.items.append(text)
        self.final_newline = True

    def text(self) -> str:
        body = self.newline.join(self.items)
        return body + self.newline if self.final_newline and self.items else body


def indentation(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]
