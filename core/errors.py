"""Errors meant for people: the CLI prints the message on one line and exits with code 2."""


class UserError(Exception):
    """Bad input (unknown name, bad flag value, corrupt file): one line saying what is wrong and what is valid."""


class Diverged(RuntimeError):
    """A training cell produced a non-finite loss; the cell is stored as failed and the sweep goes on."""
