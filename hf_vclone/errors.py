"""The one base class for problems a user can fix from the message alone.

The CLI prints these as one clear line and exits 2; anything else is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input (recipe, data, model path): the message names the key or file and the fix."""
