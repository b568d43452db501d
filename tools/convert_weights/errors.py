"""errors.py: the two ways convert-weights fails (see cli.main)."""


class ConvertError(Exception):
    """Bad or unsupported input: exit 1, the message names the file/tensor."""


class UsageError(Exception):
    """Bad command line: exit 2."""
