"""Where tables go: the terminal, or a pipe / CI log wide enough not to fold them."""

from rich.console import Console

PIPED_WIDTH = 200


def output_console() -> Console:
    console = Console(soft_wrap=True)
    if not console.is_terminal:  # piped or in CI: don't squeeze tables into 80 columns
        console = Console(soft_wrap=True, width=PIPED_WIDTH)
    return console
